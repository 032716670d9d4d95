"""Canary of ``execution_plane.compat.fail_fast``: a ``fail_fast`` run whose failed task is not a leaf.

Airflow's own scheduler loop and a worker (task runner + Execution API, where ``fail_fast`` is handled) run
in this process against the test metadata DB. The plain DAG shows the run marked success after a task
failed; the guarded one, the outcome teardown failing it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from airflow.sdk import DAG, task, teardown
from airflow.utils.state import TaskInstanceState

from execution_plane.compat.fail_fast import check_outcome_teardown
from tests.plugins.compat.airflow_support import Scheduler, work


def fail_the_step(scheduler: Scheduler, dags: dict[str, Any], dag_id: str) -> str:
    """Start a run; the scheduler queues both branches; a worker runs ``step_fails``, which fails for good
    (no retries) while ``other_branch`` waits for a worker."""
    run_id = scheduler.start_run(dag_id)
    scheduler.loop()
    assert work(scheduler, dags[dag_id], run_id, "step_fails") == TaskInstanceState.FAILED
    return run_id


def test_airflow_marks_a_fail_fast_run_success_when_its_failed_task_is_not_a_leaf(
    scheduler: Scheduler, canary_dags: dict[str, Any]
) -> None:
    run_id = fail_the_step(scheduler, canary_dags, "compat_fail_fast_plain")
    # fail_fast skipped the rest, the failed step's own downstream included (not upstream_failed).
    assert scheduler.task_states("compat_fail_fast_plain", run_id) == {
        "step_fails": "failed",
        "after_step": "skipped",
        "other_branch": "skipped",
    }

    scheduler.loop()

    assert scheduler.run_state("compat_fail_fast_plain", run_id) == "success", (
        "Airflow no longer marks this fail_fast run success: execution_plane.compat.fail_fast may go"
    )


def test_the_outcome_teardown_fails_the_run(scheduler: Scheduler, canary_dags: dict[str, Any]) -> None:
    dag_id = "compat_fail_fast_guarded"
    run_id = fail_the_step(scheduler, canary_dags, dag_id)
    scheduler.loop()  # fail_fast does not skip a teardown: it is queued once the others are done
    assert scheduler.run_state(dag_id, run_id) == "running"

    assert work(scheduler, canary_dags[dag_id], run_id, "outcome") == TaskInstanceState.FAILED
    scheduler.loop()

    assert scheduler.task_states(dag_id, run_id) == {
        "step_fails": "failed",
        "after_step": "skipped",
        "other_branch": "skipped",
        "outcome": "failed",
    }
    assert scheduler.run_state(dag_id, run_id) == "failed"


def test_check_outcome_teardown_refuses_a_fail_fast_dag_without_one(canary_dags: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="apache/airflow#26854"):
        check_outcome_teardown(canary_dags["compat_fail_fast_plain"])
    check_outcome_teardown(canary_dags["compat_fail_fast_guarded"])


def test_check_outcome_teardown_wants_it_downstream_of_every_task() -> None:
    @task
    def step() -> None: ...

    @teardown(on_failure_fail_dagrun=True)
    def outcome() -> None: ...

    with DAG("ep_compat_partial", schedule=None, start_date=datetime(2026, 1, 1), fail_fast=True) as partial:
        step.override(task_id="a")() >> outcome()
        step.override(task_id="not_covered")()
    with DAG("ep_compat_not_fail_fast", schedule=None, start_date=datetime(2026, 1, 1)) as plain:
        step()

    with pytest.raises(ValueError, match="ep_compat_partial"):
        check_outcome_teardown(partial)
    check_outcome_teardown(plain)
