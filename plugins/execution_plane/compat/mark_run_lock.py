"""Marking a run's state through the REST API locks the run first, as the scheduler does: no deadlock, no 500.

Airflow 3.3.2's ``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}`` with a ``state`` (and the bulk ``PATCH
/dagRuns``) updates the run's task instances and then the ``dag_run`` row, in one transaction. The scheduler
takes the same two kinds of row in the other order: it locks the ``dag_run`` rows it examines (``SELECT ...
FOR UPDATE SKIP LOCKED``) and then updates their task instances (``DagRun.schedule_tis``). When both touch one
run at once, Postgres detects the deadlock and aborts one of them; when it aborts the API's, the person who
marked the run gets ``500 {"reason": "Database error"}`` (seen on `make run`, 2026-12-05, marking a run
``success``; reproduced: 4 of 10 runs marked 0.5-5 s after they were triggered, the Postgres log saying
``deadlock detected ... UPDATE dag_run SET end_date=..., state='success'`` against the scheduler's ``UPDATE
task_instance SET state='scheduled'``). Airflow fixed the same inversion elsewhere by locking the run first
(apache/airflow#25266, #21362).

``install()`` wraps ``patch_dag_run_state`` where the routes call it: the wrapper takes the ``dag_run`` row's
lock (``FOR UPDATE``, waiting) before Airflow touches any task instance, so the order is the scheduler's:
while the API holds the run, the scheduler skips it (``SKIP LOCKED``); while the scheduler holds it, the API
waits for its commit. Installed in the API server only (``install_if_api_server``, from the plugin).

Canary: tests/plugins/compat/test_mark_run_lock.py holds a run's lock as the scheduler does and shows the
wrapper waits for it instead of updating task instances first. Remove this module once Airflow's
``patch_dag_run_state`` locks the run itself.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

_INSTALLED = "_execution_plane_locks_run_first"


def is_api_server_command(argv: Sequence[str]) -> bool:
    """``airflow api-server`` (its workers inherit the command line)."""
    program = argv[0].replace("\\", "/") if argv else ""
    airflow_cli = program.rsplit("/", 1)[-1] == "airflow" or program.endswith("airflow/__main__.py")
    return airflow_cli and len(argv) >= 2 and argv[1] == "api-server"


def lock_run(session: Any, dag_run: Any) -> None:
    """Take the ``dag_run`` row's lock in ``session``'s transaction (waits for a scheduler holding it)."""
    from airflow.models import DagRun
    from sqlalchemy import select

    session.execute(select(DagRun.id).where(DagRun.id == dag_run.id).with_for_update())


def locking_run_first(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def patch_dag_run_state(*, dag: Any, dag_run: Any, state: Any, session: Any) -> Any:
        lock_run(session, dag_run)
        return original(dag=dag, dag_run=dag_run, state=state, session=session)

    setattr(patch_dag_run_state, _INSTALLED, True)
    return patch_dag_run_state


def install() -> bool:
    """Wrap ``patch_dag_run_state`` in the modules that call it; False if it already was."""
    from airflow.api_fastapi.core_api.routes.public import dag_run as routes
    from airflow.api_fastapi.core_api.services.public import dag_run as services

    if getattr(services.patch_dag_run_state, _INSTALLED, False):
        return False
    wrapped = locking_run_first(services.patch_dag_run_state)
    services.patch_dag_run_state = wrapped  # the bulk PATCH /dagRuns (BulkDagRunService)
    routes.patch_dag_run_state = wrapped  # PATCH /dagRuns/{run_id}
    return True


def install_if_api_server(argv: Sequence[str]) -> bool:
    if not is_api_server_command(argv):
        return False
    installed = install()
    if installed:
        log.info("execution_plane.compat.mark_run_lock installed: marking a run locks it first")
    return installed
