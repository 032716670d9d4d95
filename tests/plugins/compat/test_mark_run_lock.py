"""Canary and guard of execution_plane.compat.mark_run_lock: marking a run through the REST API deadlocks with
a scheduler working on the run (Airflow 3.3.2), unless the run is locked first.

The scheduler's side is what Postgres logged at the 500s (``make run``, and reproduced on a live stack): it
holds the ``dag_run`` row (``SELECT ... FOR UPDATE``, as ``get_running_dag_runs_to_examine`` takes it) and
then updates a task instance of that run (``UPDATE task_instance SET state='scheduled'``, ``schedule_tis``).
The API's side is Airflow's own ``patch_dag_run_state`` (what ``PATCH .../dagRuns/{run_id}`` calls), in a
thread, on the canary DAG's run in the test metadata database.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg2
import pytest

from execution_plane.compat import mark_run_lock
from tests.plugins.compat.airflow_support import Scheduler

pytestmark = pytest.mark.timeout(120)

DAG_ID = "compat_parked_run"


def meta_url() -> str:
    from airflow.configuration import conf

    return conf.get("database", "sql_alchemy_conn").replace("postgresql+psycopg2://", "postgresql://")


def mark_success(patch: Any, run_id: str, outcome: dict[str, Any]) -> None:
    """The API server's request: ``patch`` (Airflow's ``patch_dag_run_state`` or the wrapped one)."""
    from airflow.api_fastapi.core_api.datamodels.dag_run import DagRunMutableStates
    from airflow.models import DagRun
    from airflow.models.dagbag import DBDagBag
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        with create_session() as session:
            dag_run = session.scalars(select(DagRun).filter_by(dag_id=DAG_ID, run_id=run_id)).one()
            dag = DBDagBag().get_dag_for_run(dag_run, session=session)
            patch(dag=dag, dag_run=dag_run, state=DagRunMutableStates.SUCCESS, session=session)
        outcome["api"] = "committed"
    except Exception as exc:
        outcome["api"] = f"{type(exc).__name__}: {exc}"


def api_blocked_on_the_run(scheduler_pid: int, timeout: float = 30) -> None:
    """Wait until the API's transaction waits for the run's row (after what it does before needing it)."""
    watcher = psycopg2.connect(meta_url())
    watcher.autocommit = True
    deadline = time.monotonic() + timeout
    try:
        with watcher.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))"
                    " AND query ILIKE '%%dag_run%%'",
                    (scheduler_pid,),
                )
                row = cur.fetchone()
                if row and row[0]:
                    return
                time.sleep(0.05)
    finally:
        watcher.close()
    raise AssertionError("the API's transaction never waited for the run's row")


def race(patch: Any, run_id: str) -> dict[str, Any]:
    """The scheduler holds the run; the API marks it; the scheduler then schedules one of its tasks."""
    outcome: dict[str, Any] = {}
    scheduler = psycopg2.connect(meta_url())
    try:
        with scheduler.cursor() as cur:
            cur.execute(
                "SELECT id FROM dag_run WHERE dag_id = %s AND run_id = %s FOR UPDATE", (DAG_ID, run_id)
            )
            api = threading.Thread(target=mark_success, args=(patch, run_id, outcome))
            api.start()
            api_blocked_on_the_run(scheduler.get_backend_pid())
            try:
                cur.execute(
                    "UPDATE task_instance SET state = 'scheduled' WHERE dag_id = %s AND run_id = %s"
                    " AND task_id = 'next'",
                    (DAG_ID, run_id),
                )
                scheduler.commit()
                outcome["scheduler"] = "committed"
            except psycopg2.Error as exc:
                scheduler.rollback()
                outcome["scheduler"] = f"{type(exc).__name__}: {exc}"
            api.join(60)
    finally:
        scheduler.close()
    return outcome


def test_airflow_deadlocks_marking_a_run_the_scheduler_holds(scheduler: Scheduler) -> None:
    """Canary: the day this passes no more (both commit), Airflow locks the run itself: delete the module."""
    from airflow.api_fastapi.core_api.services.public import dag_run as services

    original = getattr(services.patch_dag_run_state, "__wrapped__", services.patch_dag_run_state)
    outcome = race(original, scheduler.start_run(DAG_ID))
    assert "deadlock detected" in f"{outcome['api']} {outcome['scheduler']}", outcome


def test_locking_the_run_first_waits_for_the_scheduler_instead(scheduler: Scheduler) -> None:
    from airflow.api_fastapi.core_api.services.public import dag_run as services

    original = getattr(services.patch_dag_run_state, "__wrapped__", services.patch_dag_run_state)
    run_id = scheduler.start_run(DAG_ID)
    outcome = race(mark_run_lock.locking_run_first(original), run_id)
    assert outcome == {"scheduler": "committed", "api": "committed"}, outcome
    assert scheduler.run_state(DAG_ID, run_id) == "success"


def test_install_wraps_what_both_routes_call() -> None:
    from airflow.api_fastapi.core_api.routes.public import dag_run as routes
    from airflow.api_fastapi.core_api.services.public import dag_run as services

    before = services.patch_dag_run_state
    try:
        installed = mark_run_lock.install()
        assert installed or getattr(before, mark_run_lock._INSTALLED, False)
        assert routes.patch_dag_run_state is services.patch_dag_run_state
        assert getattr(services.patch_dag_run_state, mark_run_lock._INSTALLED, False)
        assert mark_run_lock.install() is False  # once
    finally:
        services.patch_dag_run_state = before
        routes.patch_dag_run_state = before


def test_installed_only_in_the_api_server_command() -> None:
    assert mark_run_lock.is_api_server_command(["/venv/bin/airflow", "api-server"])
    assert not mark_run_lock.is_api_server_command(["/venv/bin/airflow", "scheduler"])
    assert not mark_run_lock.is_api_server_command(["/venv/bin/pytest", "api-server"])
    assert mark_run_lock.install_if_api_server(["/venv/bin/airflow", "triggerer"]) is False
