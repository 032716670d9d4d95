"""The ingress ends a registered wait's task itself, once the event is stored (``webhooks.resume``).

Against Airflow's real metadata database: a run of a test DAG is started through the CRM route, its task
instance is deferred on an ``ExternalEventTrigger`` exactly as the Execution API defers one (a trigger row,
``trigger_id``, ``next_method``), and the wait is registered as the sensor registers it. This is also the
canary of the Airflow internals the fast path relies on (``handle_event_submit`` of a ``TaskSuccessEvent``
ending a deferred task instance with its XComs, ``TaskInstance.trigger``): an Airflow upgrade that changes
them fails here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from execution_plane import event_waits
from execution_plane.webhooks.resume import TRIGGER_CLASSPATH
from tests.plugins.webhooks.webhook_support import STARTABLE_DAG_ID, Post, outside_body


def crm_body(tag: str) -> dict[str, Any]:
    return {
        "event_id": f"crm_{tag}",
        "workflow": STARTABLE_DAG_ID,
        "payload": {"request_id": f"req_{tag}", "amount": 3},
        "occurred_at": "2026-11-25T10:00:00Z",
    }


@pytest.fixture
def waiting_ti(
    post: Post, tag: str, startable: Any, business_db: Any
) -> Iterator[Callable[..., dict[str, Any]]]:
    """``waiting_ti(state=, classpath=, until_at=)``: a task instance of a new run, deferred (or in
    ``state``) on a trigger of ``classpath``, with its wait registered for ``partner:<tag>``."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    made: list[uuid.UUID] = []

    def make(
        *,
        state: str = "deferred",
        classpath: str = TRIGGER_CLASSPATH,
        until_at: datetime | None = None,
        xcom_key: str = "answer",
    ) -> dict[str, Any]:
        assert post("/crm/events", crm_body(tag)).status_code in (200, 202)
        run_id = f"crm__crm_{tag}"
        query = select(TaskInstance).where(
            TaskInstance.dag_id == STARTABLE_DAG_ID,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == "noop",
        )
        deadline = time.monotonic() + 30  # the ingress's starter starts the run just after it answers
        while True:
            with create_session() as session:
                if session.scalars(query).one_or_none() is not None:
                    break
            assert time.monotonic() < deadline, f"run {run_id} not started"
            time.sleep(0.05)
        with create_session() as session:
            ti = session.scalars(query).one()
            trigger = Trigger(classpath=classpath, kwargs={"correlation_key": f"partner:{tag}"})
            session.add(trigger)
            session.flush()
            ti.trigger_id = trigger.id
            ti.next_method = "execute_complete"
            ti.next_kwargs = {}
            ti.state = state
            ti_id = uuid.UUID(str(ti.id))
        wait = event_waits.RegisteredWait(
            ti_id=ti_id,
            dag_id=STARTABLE_DAG_ID,
            run_id=run_id,
            task_id="noop",
            map_index=-1,
            correlation_key=f"partner:{tag}",
            event_types=("partner.response", "partner.declined"),
            after_at=None,
            until_at=until_at,
            xcom_key=xcom_key,
        )
        with business_db.cursor() as cur:
            event_waits.register(cur, wait)
        made.append(ti_id)
        return {"ti_id": ti_id, "run_id": run_id}

    yield make
    with business_db.cursor() as cur:
        event_waits.forget(cur, made)
    # Finished, so the DAG's deletion at the end of the session finds nothing running.
    with create_session() as session:
        for ti_id in made:
            ti = session.get_one(TaskInstance, str(ti_id))
            ti.trigger_id = None
            if ti.state not in ("success", "failed"):
                ti.state = "failed"


def ti_row(ti_id: uuid.UUID) -> dict[str, Any]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.get_one(TaskInstance, str(ti_id))
        xcoms = {
            key: XComModel.deserialize_value(row)
            for key, row in (
                (row.key, row)
                for row in session.scalars(
                    select(XComModel).where(
                        XComModel.dag_id == ti.dag_id,
                        XComModel.run_id == ti.run_id,
                        XComModel.task_id == ti.task_id,
                    )
                )
            )
        }
        return {"state": ti.state, "trigger_id": ti.trigger_id, "end_date": ti.end_date, "xcoms": xcoms}


def registered(business_db: Any, ti_id: uuid.UUID) -> bool:
    with business_db.cursor() as cur:
        cur.execute("SELECT 1 FROM event_waits WHERE ti_id = %s", (str(ti_id),))
        return cur.fetchone() is not None


def test_event_ends_the_deferred_task_with_the_triggers_outcome(
    post: Post, tag: str, waiting_ti: Callable[..., dict[str, Any]], business_db: Any
) -> None:
    wait = waiting_ti()
    before = datetime.now(UTC)

    response = post("/events/partner", outside_body(tag))

    assert (response.status_code, response.json()["ended_waits"]) == (202, 1), response.text
    row = ti_row(wait["ti_id"])
    assert (row["state"], row["trigger_id"]) == ("success", None)
    assert row["end_date"] >= before
    outcome = row["xcoms"]["return_value"]
    assert row["xcoms"]["answer"] == outcome
    assert outcome["status"] == "received"
    event = outcome["event"]
    assert (event["event_id"], event["event_type"], event["correlation_key"]) == (
        f"partner:evt_{tag}",
        "partner.response",
        f"partner:{tag}",
    )
    assert event["payload"]["payload"] == {"kind": "accept", "note": "looks good"}
    assert not registered(business_db, wait["ti_id"])
    # Redelivered (or another event of the key): the task is no longer deferred; nothing changes.
    again = post("/events/partner", outside_body(tag, event_id=f"evt2_{tag}", type="partner.declined"))
    assert (again.status_code, again.json()["ended_waits"]) == (202, 0)
    assert ti_row(wait["ti_id"])["xcoms"]["return_value"] == outcome


def test_the_oldest_matching_event_wins_as_in_the_trigger(
    post: Post, tag: str, waiting_ti: Callable[..., dict[str, Any]], business_db: Any
) -> None:
    # Two events were stored before the wait was deferred (an early answer, then a correction).
    with business_db.cursor() as cur:
        for event_id, event_type, received in (
            (f"partner:first_{tag}", "partner.declined", "2026-11-25T10:00:00Z"),
            (f"partner:second_{tag}", "partner.response", "2026-11-25T10:00:05Z"),
        ):
            cur.execute(
                "INSERT INTO external_events (event_id, source, event_type, correlation_key, payload,"
                " received_at) VALUES (%s, 'partner', %s, %s, '{}'::jsonb, %s)",
                (event_id, event_type, f"partner:{tag}", received),
            )
    wait = waiting_ti()

    response = post("/events/partner", outside_body(tag))

    assert response.json()["ended_waits"] == 1
    assert ti_row(wait["ti_id"])["xcoms"]["return_value"]["event"]["event_id"] == f"partner:first_{tag}"


@pytest.mark.parametrize("state", ["running", "queued", "scheduled"])
def test_a_wait_not_deferred_yet_is_left_to_its_trigger(
    post: Post, tag: str, waiting_ti: Callable[..., dict[str, Any]], business_db: Any, state: str
) -> None:
    """The sensor registers its wait, then defers: an event in between ends nothing; the row stays."""
    wait = waiting_ti(state=state)

    response = post("/events/partner", outside_body(tag))

    assert (response.status_code, response.json()["ended_waits"]) == (202, 0)
    assert ti_row(wait["ti_id"])["state"] == state
    assert registered(business_db, wait["ti_id"])


def test_an_event_after_the_deadline_is_left_to_the_trigger(
    post: Post, tag: str, waiting_ti: Callable[..., dict[str, Any]], business_db: Any
) -> None:
    """The trigger ends a wait whose deadline passed as expired: the ingress never makes that a receipt."""
    wait = waiting_ti(until_at=datetime.now(UTC) - timedelta(minutes=1))

    response = post("/events/partner", outside_body(tag))

    assert (response.status_code, response.json()["ended_waits"]) == (202, 0)
    assert ti_row(wait["ti_id"])["state"] == "deferred"
    assert registered(business_db, wait["ti_id"])


def test_a_task_deferred_on_another_trigger_is_not_touched(
    post: Post, tag: str, waiting_ti: Callable[..., dict[str, Any]], business_db: Any
) -> None:
    """A stale row (the task instance was cleared and now defers on something else) is only forgotten."""
    wait = waiting_ti(classpath="airflow.providers.standard.triggers.temporal.DateTimeTrigger")

    response = post("/events/partner", outside_body(tag))

    assert (response.status_code, response.json()["ended_waits"]) == (202, 0)
    row = ti_row(wait["ti_id"])
    assert row["state"] == "deferred" and row["trigger_id"] is not None
    assert not registered(business_db, wait["ti_id"])


def test_a_wait_of_an_unknown_task_instance_is_forgotten(post: Post, tag: str, business_db: Any) -> None:
    ghost = event_waits.RegisteredWait(
        ti_id=uuid.uuid4(),
        dag_id="gone",
        run_id="gone",
        task_id="gone",
        map_index=-1,
        correlation_key=f"partner:{tag}",
        event_types=("partner.response",),
        after_at=None,
        until_at=None,
        xcom_key="event",
    )
    with business_db.cursor() as cur:
        event_waits.register(cur, ghost)

    response = post("/events/partner", outside_body(tag))

    assert (response.status_code, response.json()["ended_waits"]) == (202, 0)
    assert not registered(business_db, ghost.ti_id)
