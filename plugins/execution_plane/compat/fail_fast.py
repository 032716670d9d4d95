"""A ``fail_fast`` run whose failed task is not a leaf ends SUCCESS: the outcome teardown that fails it.

Airflow 3.3.2, with ``fail_fast=True``: when a task fails for good, the Execution API's state update
(``_handle_fail_fast_for_dag`` -> ``models.taskinstance._stop_remaining_tasks``) sets every other unfinished
task that is not a teardown to SKIPPED, its own downstream tasks included, before the scheduler can mark
them ``upstream_failed``. ``DagRun.update_state`` then judges the run by its leaves only
(``_tis_for_dagrun_state``): all skipped, so the run is marked SUCCESS, its ``on_success_callback`` runs and
its ``on_failure_callback`` does not. Only when the failed task is itself a leaf does the run fail.

Not what the feature promises: it was asked for as "Fail fast a Dag if any of the tasks failed"
(apache/airflow#26854, implemented by PR #29406); a maintainer reopened that issue in 2024-10 because "the
supposed fix doesn't mark the DagRun as failed" and closed it again in 2025-04 with "the scheduler will fail
the run automatically", which holds only when the failed task is a leaf. No upstream report of the non-leaf
case was found (issues searched 2026-12: fail_fast / fail_stop with a skipped leaf, a run marked success);
the same mechanism, skipped leaves turning a failed run into a success, is apache/airflow#57061 (a run
marked failed by hand). Each rule is documented alone (the run state from its leaves: "success if all of
the leaf nodes states are either success or skipped"; ``fail_fast``: "Fails currently running tasks when
task in Dag fails"), their combination nowhere.

The workaround: a teardown with ``on_failure_fail_dagrun=True`` downstream of every other task. Airflow
never skips a teardown for ``fail_fast``, runs it once the others are done, and counts it as a leaf; it
fails when any task of the run failed (:func:`fail_if_a_task_failed`, or a workflow's own outcome step
using :func:`failed_task_ids`), so the run fails and its failure callback runs. :func:`check_outcome_teardown`
refuses, at DAG parse, a ``fail_fast`` DAG without one.

Canary: ``tests/plugins/compat/test_fail_fast.py`` fails a non-leaf task of a plain ``fail_fast`` DAG
through Airflow's own Execution API and asks ``DagRun.update_state``. The day the run ends FAILED there,
delete this module and the DAGs' outcome teardowns can become plain tasks again (keep them if they do more).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import DAG

UPSTREAM_REPORT = "apache/airflow#26854"


def failed_task_ids(context: Mapping[str, Any]) -> list[str]:
    """The tasks of the current run that failed for good (inside a task: through the Execution API)."""
    ti, run_id = context["ti"], context["run_id"]
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[run_id]).get(run_id, {})
    return sorted(task_id for task_id, state in states.items() if state == "failed")


def fail_if_a_task_failed(context: Mapping[str, Any] | None = None) -> None:
    """Fail the calling task (no retry) if another task of its run failed; run it as the outcome teardown."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    failed = failed_task_ids(context if context is not None else get_current_context())
    if failed:
        raise AirflowFailException(
            f"tasks failed: {', '.join(failed)} (fail_fast skipped the rest; without this teardown Airflow "
            f"would mark the run success, {UPSTREAM_REPORT})"
        )


def check_outcome_teardown(dag: DAG) -> None:
    """Refuse a ``fail_fast`` DAG that has no teardown with ``on_failure_fail_dagrun=True`` downstream of
    every other task: such a DAG's run can end SUCCESS after a task failed."""
    if not dag.fail_fast:
        return
    others = {task.task_id for task in dag.tasks if not task.is_teardown}
    for task in dag.tasks:
        if task.is_teardown and task.on_failure_fail_dagrun and others <= _upstream_ids(dag, task.task_id):
            return
    raise ValueError(
        f"DAG {dag.dag_id!r} has fail_fast=True but no teardown(on_failure_fail_dagrun=True) downstream of "
        "every other task: Airflow 3.3.2 skips the rest when a task fails and, when that task is not a leaf, "
        f"marks the run success ({UPSTREAM_REPORT}; execution_plane.compat.fail_fast)"
    )


def _upstream_ids(dag: DAG, task_id: str) -> set[str]:
    seen: set[str] = set()
    todo: list[str] = [task_id]
    while todo:
        ids: Iterable[str] = dag.get_task(todo.pop()).upstream_task_ids
        for upstream in ids:
            if upstream not in seen:
                seen.add(upstream)
                todo.append(upstream)
    return seen
