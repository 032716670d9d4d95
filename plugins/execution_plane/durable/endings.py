"""How a durable run ends, so that its state tells the truth to an analyst.

- ``complete()``: the last task of the happy path; the workflow is marked completed.
- ``Run.end_badly(status, reason)`` (from a step, or a gate's not-approved ending): the bad ending is
  recorded, compensation starts, the run gets a note and fails.
- ``settle()``: the closing teardown a ``fail_fast`` workflow needs (``execution_plane.compat.fail_fast``:
  Airflow 3.3.2 marks such a run success when its failed task is not a leaf, apache/airflow#26854). It
  always runs, and fails the run unless the workflow completed; a workflow still ``running`` there stopped
  because a step failed after its retries, so its bad ending is recorded and compensation asked for at once.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task, teardown

from execution_plane.compat.fail_fast import failed_task_ids
from execution_plane.durable.run import Run


def complete(**task_kwargs: Any) -> Any:
    @task(task_id="complete", **task_kwargs)
    def complete_workflow() -> dict[str, str]:
        from airflow.sdk import get_current_context

        return Run(get_current_context()).complete()

    return complete_workflow()


def settle_outcome(run: Run) -> dict[str, str]:
    from airflow.sdk.exceptions import AirflowFailException

    from execution_plane.saga import ledger

    with run.saga.conn() as conn, conn.cursor() as cur:
        row = ledger.workflow_row(cur, run.workflow_id) or {"status": "failed", "reason": "never registered"}
    if row["status"] == "completed":
        return {"workflow_id": run.workflow_id, "status": "completed"}
    if row["status"] == "running":
        failed = failed_task_ids(run.context)
        run.end_badly("failed", f"failed after retries: {', '.join(failed) or 'a step'}")
    raise AirflowFailException(f"workflow {run.workflow_id} {row['status']}: {row['reason']}")


def settle() -> Any:
    """The ``outcome`` teardown (see the module docstring)."""

    @teardown(on_failure_fail_dagrun=True)
    def outcome() -> dict[str, str]:
        from airflow.sdk import get_current_context

        run = Run(get_current_context())
        try:
            return settle_outcome(run)
        finally:
            run.close()

    return outcome()
