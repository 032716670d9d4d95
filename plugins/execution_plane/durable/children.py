"""Composition: a workflow starts another as its child, waits for its outcome holding nothing, reads it.

    @step
    def start_signing(run: Run, offer: dict[str, Any]) -> dict[str, Any]:
        return start_child(run, "signing", "signature_commitment", {...conf without request_id...})

    started = steps.start_signing(offer)
    outcome = wait_for_child("signing_outcome", started=started, timeout_at=started["wait_until"])
    # outcome.output: {"status": "received", "event": {"event_type": "workflow.completed", ...}} | expired

- **Started once.** The child's request id (``keys.child_request_id``) and run id (``keys.child_run_id``)
  come from the parent's workflow id and the stage: a retry or a re-run of the parent lands on the same
  child (a second start is a 409 of Airflow's unique run id, read as "already started"). The start is a
  saga step of the parent, recorded with its undo.
- **Waited for without a worker.** Every workflow announces its outcome (completed, rejected, expired,
  failed, compensated) in the inbox under ``keys.outcome_key(workflow_id)``, in the transaction that records
  it (``saga.ledger.announce_outcome``); the parent's wait is an ordinary external-event wait on that key.
- **Compensated through the child.** The start's undo (``workflow.compensate_child``) asks for the child's own
  compensation while the child is still running or ended badly (its own undos, in its own order: a
  signature still out is voided by the signature workflow's compensation), and stops its run; a child that
  completed is kept: what it committed to (a signed contract) is the parent's to decide, not to erase.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from execution_plane.durable.run import Run
from execution_plane.durable.waits import wait_for_event
from execution_plane.saga import keys
from execution_plane.saga.compensations import Compensation

CHILD_START = "workflow.start_child"
COMPENSATE_CHILD = "workflow.compensate_child"
#: A parent reads these ends of its child; "compensated" follows a bad ending and is not waited for.
CHILD_OUTCOMES = ("workflow.completed", "workflow.rejected", "workflow.expired", "workflow.failed")
PARENT_PARAM = "parent_workflow_id"


def start_child(
    run: Run,
    stage: str,
    dag_id: str,
    conf: Mapping[str, Any],
    *,
    wait_hours: float | None = None,
) -> dict[str, Any]:
    """Start ``dag_id`` as the child of this run's workflow at ``stage`` (once); returns what its wait needs:
    ``workflow_id``, ``run_id``, ``correlation_key`` (its outcome key) and ``wait_until`` (ISO deadline, when
    ``wait_hours`` is given: fixed once, when the child is started)."""
    from execution_plane.saga.airflow_api import AirflowApi

    request_id = keys.child_request_id(run.request_id, stage)
    child = keys.workflow_id(dag_id, request_id)
    run_id = keys.child_run_id(run.workflow_id, stage)
    child_conf = {**conf, keys.REQUEST_ID_PARAM: request_id, PARENT_PARAM: run.workflow_id}

    def start(_key: str) -> dict[str, Any]:
        started = AirflowApi().trigger(
            dag_id, run_id, child_conf, note=f"child of {run.workflow_id} ({stage})"
        )
        result: dict[str, Any] = {
            "workflow_id": child,
            "run_id": run_id,
            "dag_id": dag_id,
            "started_now": started,
        }
        if wait_hours is not None:
            # Fixed once, when the child starts: a retry replays it from the ledger.
            result["wait_until"] = (datetime.now(UTC) + timedelta(hours=wait_hours)).isoformat()
        return result

    result = run.saga.call(
        f"child.{stage}",
        side_effect=CHILD_START,
        request={"dag_id": dag_id, "request_id": request_id, "conf": dict(conf)},
        call=start,
        compensation=Compensation(
            COMPENSATE_CHILD, {"workflow_id": child, "dag_id": dag_id, "run_id": run_id}
        ),
    )
    return {**result, "correlation_key": keys.outcome_key(child)}


def wait_for_child(task_id: str, *, started: Any, timeout_at: Any, **sensor_kwargs: Any) -> Any:
    """Wait, holding nothing, for the outcome of the child a ``start_child`` result describes."""
    return wait_for_event(
        task_id,
        correlation_key=started["correlation_key"],
        event_types=CHILD_OUTCOMES,
        timeout_at=timeout_at,
        **sensor_kwargs,
    )


def child_outcome(outcome: Mapping[str, Any]) -> str:
    """``completed`` / ``rejected`` / ``expired`` / ``failed`` of the child, or ``timed_out`` when the parent
    stopped waiting."""
    if outcome.get("status") != "received":
        return "timed_out"
    return str(outcome["event"]["event_type"]).removeprefix("workflow.")
