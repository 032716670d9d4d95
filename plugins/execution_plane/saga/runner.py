"""The compensation runner: the spec's Compensation Logic Template, durable and idempotent.

    for each completed_step in reverse(workflow_steps):
        if completed_step.has_side_effects:
            execute(completed_step.compensation_action)
            log_compensation(completed_step, reason)
            mark_step_compensated(completed_step)
    mark_workflow_compensated(workflow)

Each undo runs through the ledger with its own key, in the same transaction that marks the step
compensated and writes the audit row; a rerun after a crash continues where it stopped and never
undoes a step twice.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from execution_plane import telemetry
from execution_plane.saga import audit, compensations, ledger
from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)


@dataclass
class CompensationReport:
    workflow_id: str
    reason: str
    compensated: list[str] = field(default_factory=list)
    already_compensated: list[str] = field(default_factory=list)
    final_status: str = ""
    #: This attempt moved the workflow to compensated (a rerun of a finished compensation does not).
    compensated_now: bool = False


CALLBACK_SOURCE = "on_failure_callback:"


def begin(
    saga: Saga, *, reason: str, bad_ending: str = "failed", source: str = "", run_id: str | None = None
) -> str | None:
    """Mark the workflow as compensating; a still-running workflow first gets its bad ending recorded.
    ``run_id`` (the compensation run's) is recorded on the workflow, so the reconciler leaves it alone.

    Returns the reason, or None when there is nothing to compensate: the workflow was never registered
    (the run failed before its first step), or a failure callback asks for a workflow that its failed run
    does not own (e.g. a refused run that reused a live request id must not undo that request).
    """
    with saga.conn() as conn, conn.cursor() as cur:
        row = ledger.workflow_row(cur, saga.workflow_id)
        if row is None:
            log.info("workflow %s was never registered: nothing to compensate", saga.workflow_id)
            return None
        if source.startswith(CALLBACK_SOURCE) and row["run_id"] != source.removeprefix(CALLBACK_SOURCE):
            log.warning(
                "failed run %s does not own workflow %s (run %s): not compensating it",
                source.removeprefix(CALLBACK_SOURCE),
                saga.workflow_id,
                row["run_id"],
            )
            return None
        if row["status"] == "running":
            ledger.set_status(cur, saga.workflow_id, bad_ending, reason, only_from=("running",))
        started = ledger.set_status(
            cur,
            saga.workflow_id,
            "compensating",
            None,
            only_from=(*ledger.BAD_ENDINGS, "compensation_failed"),
        )
        if run_id is not None:
            cur.execute(
                "UPDATE saga_workflows SET compensation_run_id = %s WHERE workflow_id = %s",
                (run_id, saga.workflow_id),
            )
        cur.execute("SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", (saga.workflow_id,))
        status, stored_reason = cur.fetchone()
    if status == "completed":
        raise RuntimeError(f"workflow {saga.workflow_id} completed: there is nothing to compensate")
    if started:
        telemetry.incr("compensation.started", workflow=saga.dag_id)
    return str(stored_reason or reason)


def _undo(
    saga: Saga, undo: compensations.Undo, args: dict[str, Any], reason: str, key: str
) -> dict[str, Any]:
    """Run one undo on its own connection: the ledger's transaction is open around it, and an undo that
    writes business rows commits them itself (such writes are idempotent: a rerun writes the same)."""
    with Saga.for_workflow(saga.workflow_id, actor=saga.actor, conn_id=saga.conn_id) as own:
        return undo(own, args, reason, key)


def _undo_action(
    saga: Saga, undo: compensations.Undo, args: dict[str, Any], reason: str, key: str, _cur: Any
) -> dict[str, Any]:
    return _undo(saga, undo, args, reason, key)


def compensate(saga: Saga, *, reason: str) -> CompensationReport:
    """Undo the workflow's completed steps, newest first; an undo that fails fails this attempt (counted
    as ``compensation.failed``: the task's retry goes on from the first step not yet undone)."""
    try:
        report = _compensate(saga, reason=reason)
    except Exception:
        telemetry.incr("compensation.failed", workflow=saga.dag_id)
        raise
    if report.final_status == "compensated" and report.compensated_now:
        telemetry.incr("compensation.completed", workflow=saga.dag_id)
    return report


def _compensate(saga: Saga, *, reason: str) -> CompensationReport:
    report = CompensationReport(workflow_id=saga.workflow_id, reason=reason)
    with saga.conn() as conn, conn.cursor() as cur:
        steps = ledger.steps_to_compensate(cur, saga.workflow_id)
    for step in steps:
        if step.status == "compensated":
            report.already_compensated.append(step.step)
            continue
        undo = compensations.get(step.compensation_action or "")
        key = saga.key("compensate", step.step)

        def mark(
            cur: Any,
            result: dict[str, Any],
            step_name: str = step.step,
            action: str = step.compensation_action or "",
        ) -> None:
            cur.execute(
                "UPDATE saga_steps SET status = 'compensated', compensated_at = now(),"
                " compensation_result = %s::jsonb, compensation_reason = %s"
                " WHERE workflow_id = %s AND step = %s",
                (json.dumps(result, default=str), reason, saga.workflow_id, step_name),
            )
            audit.append(
                cur,
                actor="saga:compensation",
                workflow_id=saga.workflow_id,
                action="step.compensated",
                details={"step": step_name, "compensation": action, "reason": reason, "result": result},
            )

        log.info(
            "compensating %s step %s with %s (key %s)",
            saga.workflow_id,
            step.step,
            step.compensation_action,
            key,
        )
        ledger.run_step(
            saga.conn(),
            workflow_id=saga.workflow_id,
            step=f"compensate:{step.step}",
            key=key,
            side_effect=step.compensation_action or "",
            request={"undo": step.step, **step.compensation_args},
            action=functools.partial(_undo_action, saga, undo, step.compensation_args, reason, key),
            scope="compensation",
            record_step=False,
            on_done=mark,
        )
        report.compensated.append(step.step)
    with saga.conn() as conn, conn.cursor() as cur:
        report.compensated_now = ledger.set_status(
            cur, saga.workflow_id, "compensated", None, only_from=("compensating",)
        )
        row = ledger.workflow_row(cur, saga.workflow_id)
    report.final_status = str(row["status"]) if row else "unknown"
    return report
