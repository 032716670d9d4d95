"""Date/time waits (outreach follow-ups, PMI day-30/60/90 gates) need no sensor of ours.

The standard provider's ``DateTimeSensorAsync`` takes ``start_from_trigger=True`` with a templated
``target_time`` (Airflow >= 3.3: the triggerer renders it) and ``end_from_trigger=True`` (the trigger yields
``TaskSuccessEvent``): the wait never touches a worker. ``TimeDeltaSensor(deferrable=True)`` has neither
start option: a worker starts it just to defer.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import DAG
from airflow.triggers.base import TaskSuccessEvent
from airflow.utils.state import TaskInstanceState

from tests.plugins.sensors.scheduling_support import schedule, start_in_triggerer

DAY_30 = "{{ (dag_run.start_date + macros.timedelta(days=30)).isoformat() }}"


def _day_30_gate_dag() -> DAG:
    with DAG("ep_day_30_gate", schedule=None) as dag:
        DateTimeSensorAsync(
            task_id="day_30_gate", target_time=DAY_30, start_from_trigger=True, end_from_trigger=True
        )
    return dag


def test_datetime_sensor_async_starts_in_the_triggerer_with_the_rendered_target(
    isolated_plugins: None,
) -> None:
    run_start = datetime(2026, 11, 1, 9, tzinfo=UTC)
    dag = _day_30_gate_dag()

    deferral = schedule(dag, "day_30_gate")
    trigger = start_in_triggerer(dag, "day_30_gate", deferral, run_start=run_start)

    assert deferral.deferred is True
    assert deferral.state == TaskInstanceState.DEFERRED
    assert deferral.classpath == "airflow.providers.standard.triggers.temporal.DateTimeTrigger"
    assert isinstance(trigger, DateTimeTrigger)
    assert trigger.moment == run_start + timedelta(days=30)


def test_datetime_sensor_async_ends_the_task_in_the_triggerer(isolated_plugins: None) -> None:
    dag = _day_30_gate_dag()
    deferral = schedule(dag, "day_30_gate")
    trigger = start_in_triggerer(
        dag, "day_30_gate", deferral, run_start=datetime.now(UTC) - timedelta(days=30, seconds=1)
    )

    event = asyncio.run(asyncio.wait_for(anext(trigger.run()), timeout=10))

    assert isinstance(event, TaskSuccessEvent)


def test_time_delta_sensor_is_started_by_a_worker_even_when_deferrable(isolated_plugins: None) -> None:
    with DAG("ep_time_delta", schedule=None) as dag:
        TimeDeltaSensor(task_id="wait", delta=timedelta(days=30), deferrable=True, end_from_trigger=True)

    assert schedule(dag, "wait").deferred is False
