"""Canary of ``execution_plane.compat.parked_runs`` (apache/airflow#31185): Airflow's scheduler examines a
parked run on every pass although nothing in it changed; with the workaround it examines the run again
only when something did (or its safety recheck is due), and a run with news goes before new runs.

Driven with Airflow's own scheduler loop in process (tests/plugins/compat/airflow_support.py): the run
parks at a real approval (``awaiting_input``) through the worker's Execution API, the answer comes through
Airflow's public REST API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from airflow.utils.state import TaskInstanceState

from execution_plane.compat import parked_runs
from tests.plugins.compat import airflow_support as support
from tests.plugins.compat.airflow_support import ApiServer, Scheduler

DAG_ID, TASK = "compat_parked_run", "approve"
TAG = "compat_parking"


def park(scheduler: Scheduler, dags: dict[str, Any]) -> str:
    """A run parked at its approval, its worker's exit read: what a parked workflow looks like."""
    run_id = scheduler.start_run(DAG_ID)
    scheduler.loop()
    assert support.work(scheduler, dags[DAG_ID], run_id, TASK) == TaskInstanceState.AWAITING_INPUT
    scheduler.loop()
    assert scheduler.ti(DAG_ID, run_id, TASK).state == TaskInstanceState.AWAITING_INPUT
    return run_id


@pytest.fixture
def quiet_parking(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The workaround installed as the plugin's listener installs it, scoped to the canary DAG's tag, with
    no margin (this test's clock is the database's) and the safety recheck out of the way."""
    monkeypatch.setenv("AIRFLOW__EXECUTION_PLANE__SKIP_UNCHANGED_PARKED_RUNS", "True")
    monkeypatch.setenv("AIRFLOW__EXECUTION_PLANE__QUIET_PARKING_TAGS", TAG)
    monkeypatch.setenv("AIRFLOW__EXECUTION_PLANE__PARKED_RUN_CHANGE_MARGIN", "0")
    monkeypatch.setenv("AIRFLOW__EXECUTION_PLANE__PARKED_RUN_RECHECK_INTERVAL", "3600")
    assert parked_runs.install()
    try:
        yield
    finally:
        parked_runs.uninstall()


def test_airflow_examines_a_parked_run_on_every_pass(
    scheduler: Scheduler, canary_dags: dict[str, Any]
) -> None:
    """The canary: nothing changes in the parked run, yet every loop examines it again. The day this fails
    Airflow skips unchanged runs itself: delete compat/parked_runs.py and its [execution_plane] options."""
    assert not parked_runs.installed()
    run_id = park(scheduler, canary_dags)
    seen = []
    for _ in range(3):
        before = scheduler.last_decision(DAG_ID, run_id)
        time.sleep(0.01)
        scheduler.loop()
        seen.append(scheduler.last_decision(DAG_ID, run_id) > before)
    assert seen == [True, True, True]
    assert scheduler.ti(DAG_ID, run_id, TASK).state == TaskInstanceState.AWAITING_INPUT


def test_a_parked_run_is_left_alone_until_it_is_answered(
    scheduler: Scheduler, canary_dags: dict[str, Any], airflow_api: ApiServer, quiet_parking: None
) -> None:
    run_id = park(scheduler, canary_dags)
    parked_at = scheduler.last_decision(DAG_ID, run_id)
    for _ in range(3):
        scheduler.loop()
    assert scheduler.last_decision(DAG_ID, run_id) == parked_at, "an unchanged parked run was examined"

    assert airflow_api.answer(DAG_ID, run_id, TASK, "Approve", user="manager").status_code == 200
    scheduler.loop()  # the answer resumes the approval: its worker runs execute_complete
    assert support.work(scheduler, canary_dags[DAG_ID], run_id, TASK) == TaskInstanceState.SUCCESS
    scheduler.loop()  # news: the approval finished, so the run is examined and its next task decided
    assert scheduler.last_decision(DAG_ID, run_id) > parked_at
    # An EmptyOperator is marked success by the scheduler's decision itself, without a worker.
    assert scheduler.ti(DAG_ID, run_id, "next").state == TaskInstanceState.SUCCESS


def test_a_run_with_news_goes_before_new_runs_and_unchanged_runs(
    scheduler: Scheduler, canary_dags: dict[str, Any], airflow_api: ApiServer, quiet_parking: None
) -> None:
    from airflow.utils.session import create_session

    answered, unchanged = park(scheduler, canary_dags), park(scheduler, canary_dags)
    new = scheduler.start_run(DAG_ID)
    assert airflow_api.answer(DAG_ID, answered, TASK, "Approve", user="manager").status_code == 200

    query = parked_runs.runs_to_examine_query(tags=(TAG,), margin_s=0, recheck_s=3600, limit=10)
    with create_session() as session:
        order = [run.run_id for run in session.scalars(query) if run.dag_id == DAG_ID]
    assert order == [answered, new], order  # the unchanged parked run is not due at all

    recheck_due = parked_runs.runs_to_examine_query(tags=(TAG,), margin_s=0, recheck_s=0, limit=10)
    with create_session() as session:
        order = [run.run_id for run in session.scalars(recheck_due) if run.dag_id == DAG_ID]
    assert order == [answered, new, unchanged], order  # the safety recheck comes last


def test_runs_of_other_dags_are_examined_as_before(
    scheduler: Scheduler, canary_dags: dict[str, Any], quiet_parking: None
) -> None:
    from airflow.utils.session import create_session

    run_id = park(scheduler, canary_dags)
    other_tags = parked_runs.runs_to_examine_query(
        tags=("some_other_tag",), margin_s=0, recheck_s=3600, limit=10
    )
    with create_session() as session:
        assert run_id in [run.run_id for run in session.scalars(other_tags)]


def test_install_follows_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.models.dagrun import DagRun

    original = DagRun.__dict__["get_running_dag_runs_to_examine"]
    monkeypatch.setenv("AIRFLOW__EXECUTION_PLANE__SKIP_UNCHANGED_PARKED_RUNS", "False")
    assert parked_runs.install() is False
    assert DagRun.__dict__["get_running_dag_runs_to_examine"] is original
    monkeypatch.setenv("AIRFLOW__EXECUTION_PLANE__SKIP_UNCHANGED_PARKED_RUNS", "True")
    try:
        assert parked_runs.install() and parked_runs.install()  # idempotent
        assert DagRun.__dict__["get_running_dag_runs_to_examine"] is not original
    finally:
        parked_runs.uninstall()
    assert DagRun.__dict__["get_running_dag_runs_to_examine"] is original


def test_the_plugin_installs_it_in_the_scheduler_command_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from execution_plane.compat import scheduler

    monkeypatch.setenv("AIRFLOW__EXECUTION_PLANE__SKIP_UNCHANGED_PARKED_RUNS", "True")
    try:
        assert not scheduler.install_if_scheduler(["/venv/bin/pytest", "tests"])
        assert not scheduler.install_if_scheduler(["/venv/bin/airflow", "triggerer"])
        assert not parked_runs.installed()  # a scheduler built in a test process stays Airflow's own
        assert scheduler.install_if_scheduler(["/venv/bin/airflow", "scheduler"])
        assert parked_runs.installed()
    finally:
        parked_runs.uninstall()
    assert scheduler.is_scheduler_command(["/usr/lib/python3/site-packages/airflow/__main__.py", "scheduler"])


def test_the_plugin_leaves_end_from_trigger_dags_loadable() -> None:
    """Airflow 3.3.2 refuses every DAG with an end_from_trigger=True task once a plugin registers a listener:
    the plugin must not register one (the durable workflows' date waits end in the triggerer)."""
    from airflow.listeners.listener import get_listener_manager

    from execution_plane.plugin import ExecutionPlanePlugin

    assert not getattr(ExecutionPlanePlugin, "listeners", [])
    assert not get_listener_manager().has_listeners
