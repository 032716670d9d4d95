"""ExternalEventTrigger on the real test Postgres: serialization, receipt, filtering, expiry, end_task."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.triggers.base import TaskFailedEvent, TaskSuccessEvent, TriggerEvent

from execution_plane.triggers.external_event import ExternalEventTrigger, parse_moment
from execution_plane.triggers.listener import SharedEventListener
from tests.plugins.triggers.event_support import CONN_ID, EventTable, wait_until

CLASSPATH = "execution_plane.triggers.external_event.ExternalEventTrigger"


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _soon(seconds: float) -> str:
    return _iso(datetime.now(UTC) + timedelta(seconds=seconds))


async def _first_event(trigger: ExternalEventTrigger) -> TriggerEvent:
    return await anext(trigger.run())


def test_serialize_is_exact() -> None:
    trigger = ExternalEventTrigger(
        correlation_key="deal-42",
        event_types=["envelope.completed", "envelope.declined"],
        timeout_at="2026-12-01T00:00:00+00:00",
        after_received_at="2026-11-01T00:00:00+00:00",
        end_task=True,
        xcom_key="signature",
    )

    assert trigger.serialize() == (
        CLASSPATH,
        {
            "correlation_key": "deal-42",
            "event_types": ["envelope.completed", "envelope.declined"],
            "timeout_at": "2026-12-01T00:00:00+00:00",
            "conn_id": "execution_plane_db",
            "after_received_at": "2026-11-01T00:00:00+00:00",
            "end_task": True,
            "xcom_key": "signature",
        },
    )


def test_serialize_round_trips() -> None:
    trigger = ExternalEventTrigger(correlation_key="deal-42", event_types=["signed"], timeout_at=None)
    classpath, kwargs = trigger.serialize()

    assert ExternalEventTrigger(**kwargs).serialize() == (classpath, kwargs)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("2026-01-01T10:00:00+02:00", datetime(2026, 1, 1, 8, tzinfo=UTC)),
        ("2026-01-01 08:00:00", datetime(2026, 1, 1, 8, tzinfo=UTC)),
        (datetime(2026, 1, 1, 8, tzinfo=UTC), datetime(2026, 1, 1, 8, tzinfo=UTC)),
    ],
)
def test_parse_moment(value: Any, expected: datetime | None) -> None:
    assert parse_moment(value) == expected


@pytest.mark.asyncio
async def test_event_already_present_is_received_oldest_first(event_table: EventTable) -> None:
    key = event_table.new_key()
    older = datetime.now(UTC) - timedelta(minutes=5)
    first_id = event_table.insert(key, "signed", payload={"n": 1}, received_at=older)
    event_table.insert(key, "signed", payload={"n": 2}, received_at=older + timedelta(minutes=1))

    event = await asyncio.wait_for(
        _first_event(ExternalEventTrigger(correlation_key=key, event_types=["signed"], timeout_at=_soon(60))),
        timeout=5,
    )

    assert event.payload == {
        "status": "received",
        "event": {
            "event_id": first_id,
            "source": "test",
            "event_type": "signed",
            "correlation_key": key,
            "payload": {"n": 1},
            "received_at": older.isoformat(),
        },
    }


@pytest.mark.asyncio
async def test_event_inserted_after_start_wakes_the_trigger_by_notify(event_table: EventTable) -> None:
    key = event_table.new_key()
    waiting = asyncio.create_task(
        _first_event(ExternalEventTrigger(correlation_key=key, event_types=["signed"], timeout_at=_soon(60)))
    )
    await wait_until(
        lambda: (
            (listener := SharedEventListener.active(CONN_ID)) is not None and listener.server_pid is not None
        )
    )
    assert not waiting.done()

    event_id = event_table.insert(key, "signed")
    # The periodic re-check is 60 s away: ending within this wait, only the NOTIFY can have woken it.
    event = await asyncio.wait_for(waiting, timeout=30)

    assert event.payload["status"] == "received"
    assert event.payload["event"]["event_id"] == event_id


@pytest.mark.asyncio
async def test_other_correlation_keys_and_event_types_are_ignored(event_table: EventTable) -> None:
    key, other_key = event_table.new_key(), event_table.new_key()
    waiting = asyncio.create_task(
        _first_event(
            ExternalEventTrigger(
                correlation_key=key,
                event_types=["envelope.completed", "envelope.declined"],
                timeout_at=_soon(60),
            )
        )
    )
    await wait_until(
        lambda: (
            (listener := SharedEventListener.active(CONN_ID)) is not None and listener.server_pid is not None
        )
    )

    event_table.insert(other_key, "envelope.completed")
    event_table.insert(key, "envelope.viewed")
    # A positive signal, not a pause: a check of the key that started after both inserts has completed.
    listener = SharedEventListener.active(CONN_ID)
    assert listener is not None
    await listener._checked_after_now(key)
    await asyncio.sleep(0)  # the trigger's task runs once more if that check had woken it
    assert not waiting.done()

    declined_id = event_table.insert(key, "envelope.declined")
    event = await asyncio.wait_for(waiting, timeout=5)

    assert event.payload["event"]["event_id"] == declined_id
    assert event.payload["event"]["event_type"] == "envelope.declined"


@pytest.mark.asyncio
async def test_events_received_before_after_received_at_are_ignored(event_table: EventTable) -> None:
    key = event_table.new_key()
    sent_at = datetime.now(UTC) - timedelta(minutes=1)
    event_table.insert(key, "signed", received_at=sent_at - timedelta(days=1))
    fresh_id = event_table.insert(key, "signed", received_at=sent_at + timedelta(seconds=10))

    event = await asyncio.wait_for(
        _first_event(
            ExternalEventTrigger(
                correlation_key=key,
                event_types=["signed"],
                timeout_at=_soon(60),
                after_received_at=_iso(sent_at),
            )
        ),
        timeout=5,
    )

    assert event.payload["event"]["event_id"] == fresh_id


@pytest.mark.asyncio
async def test_timeout_yields_expired(event_table: EventTable) -> None:
    key = event_table.new_key()
    deadline = _soon(1)
    started = time.monotonic()

    event = await asyncio.wait_for(
        _first_event(ExternalEventTrigger(correlation_key=key, event_types=["signed"], timeout_at=deadline)),
        timeout=10,
    )

    assert event.payload == {"status": "expired", "timeout_at": datetime.fromisoformat(deadline).isoformat()}
    assert time.monotonic() - started > 0.8  # not before its deadline (the wait_for above bounds the rest)


@pytest.mark.asyncio
async def test_outcome_after_the_deadline_is_the_same_on_every_rerun(event_table: EventTable) -> None:
    """A triggerer restart after the deadline must not change the outcome: the window ends at timeout_at."""
    expired_key, received_key = event_table.new_key(), event_table.new_key()
    deadline = datetime.now(UTC) - timedelta(minutes=1)
    event_table.insert(expired_key, "signed")  # arrived after the deadline
    in_time_id = event_table.insert(received_key, "signed", received_at=deadline - timedelta(seconds=1))

    expired, received = await asyncio.wait_for(
        asyncio.gather(
            _first_event(ExternalEventTrigger(expired_key, ["signed"], timeout_at=_iso(deadline))),
            _first_event(ExternalEventTrigger(received_key, ["signed"], timeout_at=_iso(deadline))),
        ),
        timeout=5,
    )

    assert expired.payload == {"status": "expired", "timeout_at": deadline.isoformat()}
    assert received.payload["event"]["event_id"] == in_time_id


@pytest.mark.asyncio
async def test_end_task_ends_the_task_in_the_triggerer_with_xcoms(event_table: EventTable) -> None:
    key = event_table.new_key()
    event_id = event_table.insert(key, "signed")

    event = await asyncio.wait_for(
        _first_event(
            ExternalEventTrigger(key, ["signed"], timeout_at=_soon(60), end_task=True, xcom_key="signature")
        ),
        timeout=5,
    )

    assert isinstance(event, TaskSuccessEvent)
    assert event.xcoms is not None
    assert event.xcoms["signature"] == event.xcoms["return_value"]
    outcome: Any = event.xcoms["signature"]
    assert outcome["status"] == "received"
    assert outcome["event"]["event_id"] == event_id


@pytest.mark.asyncio
async def test_end_task_expiry_is_a_success_carrying_the_expiry_marker(event_table: EventTable) -> None:
    deadline = datetime.now(UTC) - timedelta(seconds=1)

    event = await asyncio.wait_for(
        _first_event(
            ExternalEventTrigger(event_table.new_key(), ["signed"], timeout_at=_iso(deadline), end_task=True)
        ),
        timeout=5,
    )

    assert isinstance(event, TaskSuccessEvent)
    assert event.xcoms == {
        "event": {"status": "expired", "timeout_at": deadline.isoformat()},
        "return_value": {"status": "expired", "timeout_at": deadline.isoformat()},
    }


@pytest.mark.asyncio
async def test_undefined_connection_yields_an_error_event(event_table: EventTable) -> None:
    trigger = ExternalEventTrigger(
        event_table.new_key(), ["signed"], timeout_at=_soon(60), conn_id="ep_no_such_connection"
    )

    event = await asyncio.wait_for(_first_event(trigger), timeout=10)

    assert event.payload["status"] == "error"
    assert "ep_no_such_connection" in event.payload["message"]


@pytest.mark.asyncio
async def test_unrendered_deadline_yields_an_error_event_and_end_task_fails_the_task(
    event_table: EventTable,
) -> None:
    kwargs: dict[str, Any] = {"timeout_at": "{{ dag_run.start_date }}"}

    plain = await _first_event(ExternalEventTrigger(event_table.new_key(), ["signed"], **kwargs))
    ending = await _first_event(
        ExternalEventTrigger(event_table.new_key(), ["signed"], end_task=True, **kwargs)
    )

    assert plain.payload["status"] == "error"
    assert "Invalid isoformat" in plain.payload["message"]
    assert isinstance(ending, TaskFailedEvent)
