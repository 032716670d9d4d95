"""
### Saga compensation (internal)

Undoes a durable workflow that was rejected, expired or failed: its completed side effects, newest
first, each undo idempotent, logged in the audit log and marked compensated in the saga ledger; then the
workflow is marked compensated.

Started by the workflows themselves (rejection/expiry branch, DAG-level failure callback) and by
`saga_reconciler`, always with run id `compensate__<workflow_id>`: a second start is a 409, never a
second compensation. Rerunning a finished compensation changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task

from execution_plane.defaults import default_args, tags_for
from execution_plane.saga.keys import WORKFLOW_ID_PATTERN


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    # Undoing what a workflow did goes before any workflow's next step (a free worker takes it first).
    default_args=default_args(priority_weight=1000, weight_rule="absolute"),
    tags=tags_for("saga_compensation", "saga"),
    max_active_runs=64,
    params={
        "workflow_id": Param(
            type="string",
            pattern=WORKFLOW_ID_PATTERN,
            description="The workflow to compensate: <dag_id>:<request_id>",
        ),
        "reason": Param("compensation requested", type="string", minLength=1, maxLength=2000),
        "bad_ending": Param("failed", type="string", enum=["failed", "rejected", "expired"]),
        "source": Param("manual", type="string", maxLength=300),
    },
)
def saga_compensation() -> None:
    @task
    def begin(params: dict[str, str], run_id: str) -> str | None:
        """Record the bad ending (if the workflow was still running) and move it to compensating."""
        from execution_plane.saga.runner import begin as begin_compensation
        from execution_plane.saga.steps import Saga

        with Saga.for_workflow(params["workflow_id"], actor="saga:compensation") as saga:
            return begin_compensation(
                saga,
                reason=params["reason"],
                bad_ending=params["bad_ending"],
                source=params["source"],
                run_id=run_id,
            )

    @task
    def undo_completed_steps(reason: str | None, params: dict[str, str]) -> dict[str, object]:
        from execution_plane.saga.runner import compensate
        from execution_plane.saga.steps import Saga
        from workflows import load_compensations

        load_compensations()  # every workflow's undos registered: this run may undo any of them

        if reason is None:
            return {
                "workflow_id": params["workflow_id"],
                "compensated": [],
                "status": "nothing to compensate",
            }
        with Saga.for_workflow(params["workflow_id"], actor="saga:compensation") as saga:
            report = compensate(saga, reason=reason)
        return {
            "workflow_id": report.workflow_id,
            "compensated": report.compensated,
            "already_compensated": report.already_compensated,
            "status": report.final_status,
        }

    undo_completed_steps(begin())


saga_compensation()
