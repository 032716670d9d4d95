"""How a durable workflow's run ends, so that the run itself tells the truth.

- ``complete(context)``: the workflow reached its goal; marked completed.
- ``end_badly(context, status, reason)``: rejected / expired / declined / failed. The bad ending and its
  reason are recorded, compensation is started at once (deterministic run id), the run gets a note
  saying what happened, and the task fails (no retry) so the run does not show as a plain success.
  The DAG's failure callback then asks for the same compensation again: a 409, nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn

from execution_plane.saga.airflow_api import AirflowApi, start_compensation
from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)


def complete(context: Any) -> dict[str, str]:
    with Saga.from_context(context) as saga:
        saga.end("completed")
        return {"workflow_id": saga.workflow_id, "status": "completed"}


def end_badly(context: Any, status: str, reason: str) -> NoReturn:
    from airflow.sdk.exceptions import AirflowFailException

    with Saga.from_context(context) as saga:
        saga.end(status, reason)
        workflow_id = saga.workflow_id
    try:
        api = AirflowApi()
        start_compensation(
            workflow_id, reason=reason, bad_ending=status, source=f"{context['run_id']}", api=api
        )
        api.set_note(context["dag"].dag_id, context["run_id"], f"{status.upper()}: {reason}"[:1000])
    except Exception:  # the reconciler starts it within minutes; the bad ending is recorded already
        log.exception("could not start compensation of %s now; the reconciler will", workflow_id)
    raise AirflowFailException(f"workflow {workflow_id} {status}: {reason}")


def end_not_approved(context: Any, gate_task_id: str, record: Callable[[str], None]) -> NoReturn:
    """End the run after an approval gate did not approve: ``expired`` when nobody answered in time, else
    ``rejected``. ``record(status)`` first writes the bad ending into the workflow's own tables."""
    decision = context["ti"].xcom_pull(task_ids=gate_task_id, key="decision") or {}
    status = "expired" if decision.get("status") == "expired" else "rejected"
    record(status)
    end_badly(context, status, decision_reason(context, gate_task_id, f"not approved at {gate_task_id}"))


def decision_reason(context: Any, stage_task_id: str, default: str) -> str:
    """Readable reason from an approval gate's decision XCom ("rejected at legal_review by bob: ...")."""
    decision = context["ti"].xcom_pull(task_ids=stage_task_id, key="decision") or {}
    if not decision:
        return default
    who = decision.get("decided_by") or "nobody (timed out)"
    text = f"{decision.get('status')} at {decision.get('stage')} by {who}"
    if decision.get("comment"):
        text += f": {decision['comment']}"
    return text
