"""ExternalEventSensor: defers to the trigger, returns its outcome, can start and end in the triggerer."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowException, TaskDeferred
from airflow.sdk.execution_time.context import MacrosAccessor
from airflow.triggers.base import TaskSuccessEvent
from airflow.utils.state import TaskInstanceState

from execution_plane.sensors.external_event import ExternalEventSensor
from execution_plane.triggers.external_event import ExternalEventTrigger
from tests.plugins.sensors.scheduling_support import schedule, start_in_triggerer
from tests.plugins.triggers.event_support import EventTable

CLASSPATH = "execution_plane.triggers.external_event.ExternalEventTrigger"
RECEIVED = {
    "status": "received",
    "event": {
        "event_id": "evt-1",
        "source": "esign",
        "event_type": "envelope.completed",
        "correlation_key": "deal-42",
        "payload": {"envelope_id": "env-9"},
        "received_at": "2026-11-02T09:00:00+00:00",
    },
}
EXPIRED = {"status": "expired", "timeout_at": "2026-11-08T00:00:00+00:00"}


def _sensor(**kwargs: Any) -> ExternalEventSensor:
    args: dict[str, Any] = {
        "task_id": "wait_for_signature",
        "correlation_key": "deal-42",
        "event_types": ["envelope.completed", "envelope.declined"],
        "timeout_at": "2026-11-08T00:00:00+00:00",
    }
    return ExternalEventSensor(**{**args, **kwargs})


def _context() -> dict[str, Any]:
    return {"ti": mock.MagicMock()}


def test_execute_defers_to_the_trigger() -> None:
    sensor = _sensor(after_received_at="2026-11-01T00:00:00+00:00")

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(_context())  # type: ignore[arg-type]

    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout is None
    assert isinstance(deferred.value.trigger, ExternalEventTrigger)
    assert deferred.value.trigger.serialize() == (
        CLASSPATH,
        {
            "correlation_key": "deal-42",
            "event_types": ["envelope.completed", "envelope.declined"],
            "timeout_at": "2026-11-08T00:00:00+00:00",
            "conn_id": "execution_plane_db",
            "after_received_at": "2026-11-01T00:00:00+00:00",
            "end_task": False,
            "xcom_key": "event",
        },
    )


def test_default_deadline_is_the_run_start_plus_timeout_so_retries_keep_it() -> None:
    run_start = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    with DAG("ep_sensor_deadline", schedule=None):
        sensor = _sensor(timeout_at=None, timeout=timedelta(days=3))

    sensor.render_template_fields({"dag_run": mock.Mock(start_date=run_start), "macros": MacrosAccessor()})

    assert sensor.timeout_at == (run_start + timedelta(days=3)).isoformat()


@pytest.mark.parametrize("outcome", [RECEIVED, EXPIRED], ids=["received", "expired"])
def test_execute_complete_returns_the_outcome_and_pushes_it(outcome: dict[str, Any]) -> None:
    context = _context()

    assert _sensor(xcom_key="signature").execute_complete(context, outcome) == outcome  # type: ignore[arg-type]
    context["ti"].xcom_push.assert_called_once_with(key="signature", value=outcome)


@pytest.mark.parametrize(
    "event",
    [{"status": "error", "message": "ListenerError: conn not defined"}, None, "success"],
    ids=["error", "none", "bare-state"],
)
def test_execute_complete_raises_on_anything_else(event: Any) -> None:
    with pytest.raises(AirflowException, match="deal-42"):
        _sensor().execute_complete(_context(), event)  # type: ignore[arg-type]


@pytest.mark.parametrize("event_types", [[], "envelope.completed"])
def test_event_types_must_be_a_non_empty_list(event_types: Any) -> None:
    with pytest.raises(ValueError, match="event_types"):
        _sensor(event_types=event_types)


def test_start_from_trigger_defers_in_the_scheduler_and_renders_in_the_triggerer(
    isolated_plugins: None,
) -> None:
    run_start = datetime(2026, 11, 1, tzinfo=UTC)
    with DAG("ep_sensor_start_from_trigger", schedule=None, params={"deal": "deal-42"}) as dag:
        _sensor(
            correlation_key="{{ params.deal }}",
            timeout_at=None,
            timeout=timedelta(days=7),
            start_from_trigger=True,
            end_task=True,
        )

    deferral = schedule(dag, "wait_for_signature")
    trigger = start_in_triggerer(dag, "wait_for_signature", deferral, run_start=run_start)

    assert deferral.deferred is True
    assert deferral.state == TaskInstanceState.DEFERRED
    assert deferral.next_method == "execute_complete"
    assert deferral.classpath == CLASSPATH
    assert trigger.serialize() == (
        CLASSPATH,
        {
            "correlation_key": "deal-42",
            "event_types": ["envelope.completed", "envelope.declined"],
            "timeout_at": (run_start + timedelta(days=7)).isoformat(),
            "conn_id": "execution_plane_db",
            "after_received_at": None,
            "end_task": True,
            "xcom_key": "event",
        },
    )


def test_start_from_trigger_with_end_task_never_touches_a_worker(
    isolated_plugins: None, events: EventTable
) -> None:
    key = events.new_key()
    event_id = events.insert(key, "envelope.completed")
    with DAG("ep_sensor_no_worker", schedule=None) as dag:
        _sensor(
            correlation_key="{{ dag_run.conf['key'] }}",
            timeout_at=None,
            timeout=timedelta(minutes=5),
            start_from_trigger=True,
            end_task=True,
        )
    deferral = schedule(dag, "wait_for_signature")
    trigger = start_in_triggerer(
        dag, "wait_for_signature", deferral, run_start=datetime.now(UTC), conf={"key": key}
    )

    event = asyncio.run(asyncio.wait_for(anext(trigger.run()), timeout=10))

    assert isinstance(event, TaskSuccessEvent)
    assert event.xcoms is not None
    outcome: Any = event.xcoms["event"]
    assert outcome["event"]["event_id"] == event_id
    assert event.xcoms["return_value"] == outcome


def test_without_start_from_trigger_the_scheduler_sends_it_to_a_worker(isolated_plugins: None) -> None:
    with DAG("ep_sensor_worker_start", schedule=None) as dag:
        _sensor()

    assert schedule(dag, "wait_for_signature").deferred is False


def test_end_task_resumed_by_dag_test_waits_again_inline(events: EventTable) -> None:
    """dag.test() runs the trigger inline and resumes the task with the end event's bare state."""
    key = events.new_key()
    event_id = events.insert(key, "envelope.completed")
    context = _context()

    sensor = _sensor(correlation_key=key, end_task=True, timeout_at=datetime.now(UTC) + timedelta(minutes=1))

    outcome = sensor.execute_complete(context, str(TaskInstanceState.SUCCESS))  # type: ignore[arg-type]

    assert outcome["status"] == "received"
    assert outcome["event"]["event_id"] == event_id
    context["ti"].xcom_push.assert_called_once_with(key="event", value=outcome)


def _ti_context(**fields: Any) -> dict[str, Any]:
    ti = mock.MagicMock()
    ti.configure_mock(
        id=uuid.uuid4(),
        dag_id="deal_dag",
        run_id="run-1",
        task_id="wait_for_signature",
        map_index=-1,
        **fields,
    )
    return {"ti": ti}


def _registered(business_db: Any, ti_id: uuid.UUID) -> list[tuple[Any, ...]]:
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT dag_id, run_id, task_id, map_index, correlation_key, event_types, after_at, until_at,"
            " xcom_key FROM event_waits WHERE ti_id = %s",
            (str(ti_id),),
        )
        rows: list[tuple[Any, ...]] = cur.fetchall()
        cur.execute("DELETE FROM event_waits WHERE ti_id = %s", (str(ti_id),))
    return rows


def test_a_wait_that_ends_its_task_registers_itself_before_deferring(
    events: EventTable, business_db: Any
) -> None:
    """The ingress finds it by correlation key and ends the task instance as soon as the event is stored."""
    context = _ti_context()
    sensor = _sensor(end_task=True, after_received_at="2026-11-01T00:00:00+00:00", xcom_key="answer")

    with pytest.raises(TaskDeferred):
        sensor.execute(context)  # type: ignore[arg-type]

    assert _registered(business_db, context["ti"].id) == [
        (
            "deal_dag",
            "run-1",
            "wait_for_signature",
            -1,
            "deal-42",
            ["envelope.completed", "envelope.declined"],
            datetime(2026, 11, 1, tzinfo=UTC),
            datetime(2026, 11, 8, tzinfo=UTC),
            "answer",
        )
    ]


def test_a_wait_resumed_on_a_worker_is_not_registered(events: EventTable, business_db: Any) -> None:
    context = _ti_context()

    with pytest.raises(TaskDeferred):
        _sensor(end_task=False).execute(context)  # type: ignore[arg-type]

    assert _registered(business_db, context["ti"].id) == []
