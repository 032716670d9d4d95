"""Canary of ``execution_plane.compat.trigger_xcoms`` (apache/airflow#45231: one XCom column, two encodings).

Airflow's own scheduler loop and worker (task runner + Execution API) run in this process against the test
metadata DB: a task of Airflow's own defers, the triggerer's path ends it with an event carrying an XCom
(``Trigger.submit_event``, as ``TriggerRunnerSupervisor`` calls it), and the next task reads that XCom. On
plain Airflow the next task receives the JSON text of the value; with the workaround, the value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from airflow.utils.state import TaskInstanceState

from execution_plane.compat import trigger_xcoms
from tests.plugins.compat import airflow_support as support
from tests.plugins.compat.airflow_support import Scheduler

DAG_ID = "compat_trigger_xcoms"
OUTCOME = {"status": "received", "event": {"event_id": "partner:go-1", "payload": {"n": 1}}}


@pytest.fixture
def plain_airflow() -> Iterator[None]:
    trigger_xcoms.uninstall()
    yield


@pytest.fixture
def workaround() -> Iterator[None]:
    trigger_xcoms.install()
    try:
        yield
    finally:
        trigger_xcoms.uninstall()


def end_by_trigger_and_read(scheduler: Scheduler, dags: dict[str, Any]) -> str:
    """Park ``wait`` on its trigger, end it with an event carrying ``OUTCOME``, run ``read``; what it read."""
    from airflow.models.trigger import Trigger
    from airflow.models.xcom import XComModel
    from airflow.triggers.base import TaskSuccessEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run_id = scheduler.start_run(DAG_ID)
    scheduler.loop()
    assert support.work(scheduler, dags[DAG_ID], run_id, "wait") == TaskInstanceState.DEFERRED
    trigger_id = scheduler.ti(DAG_ID, run_id, "wait").trigger_id
    assert trigger_id is not None

    Trigger.submit_event(trigger_id, TaskSuccessEvent(xcoms={"return_value": OUTCOME}))

    assert scheduler.ti(DAG_ID, run_id, "wait").state == TaskInstanceState.SUCCESS
    scheduler.loop()
    scheduler.loop()
    assert support.work(scheduler, dags[DAG_ID], run_id, "read") == TaskInstanceState.SUCCESS
    with create_session() as session:
        read = session.scalars(
            select(XComModel.value).where(
                XComModel.dag_id == DAG_ID, XComModel.run_id == run_id, XComModel.task_id == "read"
            )
        ).one()
    return str(read)


def test_airflow_hands_a_trigger_xcom_to_the_next_task_as_json_text(
    scheduler: Scheduler, canary_dags: dict[str, Any], plain_airflow: None
) -> None:
    assert end_by_trigger_and_read(scheduler, canary_dags) == "str", (
        "Airflow now hands the XCom of a trigger's end event to the next task as the value "
        "(apache/airflow#45231 fixed?): execution_plane.compat.trigger_xcoms may go"
    )


def test_with_the_workaround_the_next_task_reads_the_value(
    scheduler: Scheduler, canary_dags: dict[str, Any], workaround: None
) -> None:
    assert end_by_trigger_and_read(scheduler, canary_dags) == "dict"


def test_installed_only_in_the_components_that_end_tasks_from_trigger_events(plain_airflow: None) -> None:
    for argv in (["/venv/bin/airflow", "dag-processor"], ["/venv/bin/python", "-m", "pytest"], []):
        assert trigger_xcoms.install_if_component(argv) is False
    try:
        assert trigger_xcoms.install_if_component(["/venv/bin/airflow", "triggerer"]) is True
        from airflow.models.trigger import handle_event_submit
        from airflow.triggers.base import TaskSuccessEvent

        assert handle_event_submit.dispatch(TaskSuccessEvent) is trigger_xcoms._submit_success
    finally:
        trigger_xcoms.uninstall()
