"""``event_waits``: registered waits by correlation key, and the outcome the ingress ends them with.

``first_event`` must give exactly the trigger's outcome, so it does not matter which of the two ends a
task: both are run here on the same rows and windows of the real business database.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from execution_plane import event_waits
from execution_plane.triggers.external_event import ExternalEventTrigger
from tests.plugins.triggers.event_support import EventTable

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def wait_on(key: str, **overrides: Any) -> event_waits.RegisteredWait:
    fields: dict[str, Any] = {
        "ti_id": uuid.uuid4(),
        "dag_id": "dag",
        "run_id": "run",
        "task_id": "wait",
        "map_index": -1,
        "correlation_key": key,
        "event_types": ("envelope.signed", "envelope.declined"),
        "after_at": None,
        "until_at": None,
        "xcom_key": "event",
        **overrides,
    }
    return event_waits.RegisteredWait(**fields)


@pytest.fixture
def registered(business_db: Any) -> Any:
    made: list[uuid.UUID] = []

    def register(wait: event_waits.RegisteredWait) -> event_waits.RegisteredWait:
        with business_db.cursor() as cur:
            event_waits.register(cur, wait)
        made.append(wait.ti_id)
        return wait

    yield register
    with business_db.cursor() as cur:
        event_waits.forget(cur, made)


def test_waits_are_found_by_key_and_event_type(business_db: Any, events: EventTable, registered: Any) -> None:
    key, other = events.new_key(), events.new_key()
    signed = registered(wait_on(key))
    only_declined = registered(wait_on(key, event_types=("envelope.declined",)))
    registered(wait_on(other))

    with business_db.cursor() as cur:
        assert [w.ti_id for w in event_waits.waits_for(cur, key, "envelope.signed")] == [signed.ti_id]
        assert {w.ti_id for w in event_waits.waits_for(cur, key, "envelope.declined")} == {
            signed.ti_id,
            only_declined.ti_id,
        }
        assert event_waits.waits_for(cur, key, "envelope.sent") == []
        [found] = event_waits.waits_for(cur, key, "envelope.signed")
    assert found == signed


def test_registering_again_updates_the_row_and_forget_drops_it(
    business_db: Any, events: EventTable, registered: Any
) -> None:
    key = events.new_key()
    wait = registered(wait_on(key))
    moved = registered(wait_on(key, ti_id=wait.ti_id, until_at=T0, xcom_key="answer"))

    with business_db.cursor() as cur:
        assert event_waits.waits_for(cur, key, "envelope.signed") == [moved]
        event_waits.forget(cur, [wait.ti_id])
        assert event_waits.waits_for(cur, key, "envelope.signed") == []


def test_waits_long_past_their_deadline_are_pruned_by_later_registrations(
    business_db: Any, events: EventTable, registered: Any
) -> None:
    key = events.new_key()
    stale = registered(wait_on(key, until_at=datetime.now(UTC) - timedelta(days=2)))
    recent = registered(wait_on(key, until_at=datetime.now(UTC) - timedelta(hours=1)))
    registered(wait_on(events.new_key()))

    with business_db.cursor() as cur:
        assert [w.ti_id for w in event_waits.waits_for(cur, key, "envelope.signed")] == [recent.ti_id]
        cur.execute("SELECT count(*) FROM event_waits WHERE ti_id = %s", (str(stale.ti_id),))
        assert cur.fetchone() == (0,)


async def _trigger_outcome(wait: event_waits.RegisteredWait) -> dict[str, Any]:
    trigger = ExternalEventTrigger(
        correlation_key=wait.correlation_key,
        event_types=list(wait.event_types),
        timeout_at=wait.until_at,
        after_received_at=wait.after_at,
    )
    event = await anext(trigger.run())
    payload: dict[str, Any] = event.payload
    return payload


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("after", "until", "expected"),
    [
        (None, None, "declined-first"),
        (T0 + timedelta(seconds=1), None, "signed-later"),
        (T0 + timedelta(seconds=1), T0 + timedelta(seconds=5), "signed-later"),
        (T0 - timedelta(minutes=1), T0 - timedelta(seconds=1), None),
    ],
)
async def test_first_event_is_the_triggers_outcome(
    business_db: Any,
    event_table: EventTable,
    after: datetime | None,
    until: datetime | None,
    expected: str | None,
) -> None:
    key = event_table.new_key()
    ids = {
        "declined-first": event_table.insert(key, "envelope.declined", received_at=T0, payload={"n": 1}),
        "signed-later": event_table.insert(key, "envelope.signed", received_at=T0 + timedelta(seconds=2)),
    }
    event_table.insert(key, "envelope.sent", received_at=T0 - timedelta(seconds=30))
    wait = wait_on(key, after_at=after, until_at=until)

    with business_db.cursor() as cur:
        found = event_waits.first_event(cur, wait)
    outcome = await _trigger_outcome(wait)

    if expected is None:
        assert found is None
        assert outcome["status"] == "expired"
    else:
        assert found is not None and found["event_id"] == ids[expected]
        assert outcome == {"status": "received", "event": found}
