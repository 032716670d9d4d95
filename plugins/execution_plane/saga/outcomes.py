"""How a durable workflow's run ends, so that the run itself tells the truth.

- ``complete(context)``: the workflow reached its goal; marked completed.
- ``end_badly(context, status, reason)``: rejected / expired / declined / failed. The bad ending and its
  reason are recorded, compensation is started at once (deterministic run id), the run gets a note
  saying what happened, and the task fails (no retry) so the run does not show as a plain success.
  The DAG's failure callback then asks for the same compensation again: a 409, nothing more.
"""

from __future__ import annotations

import logging
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
    start_compensation_now(context, workflow_id, status, reason)
    raise AirflowFailException(f"workflow {workflow_id} {status}: {reason}")


def start_compensation_now(
    context: Any, workflow_id: str, status: str, reason: str, *, note_suffix: str | None = None
) -> None:
    """Ask for the compensation of a workflow whose bad ending is recorded, and note the run with it.

    Never raises: if the REST API cannot be reached now, the reconciler starts the compensation within
    minutes (it finds the recorded bad ending without a compensation run)."""
    note = f"{status.upper()}: {reason}" + (f" ({note_suffix})" if note_suffix else "")
    try:
        api = AirflowApi()
        start_compensation(
            workflow_id, reason=reason, bad_ending=status, source=f"{context['run_id']}", api=api
        )
        api.set_note(context["dag"].dag_id, context["run_id"], note[:1000])
    except Exception:  # the reconciler starts it within minutes; the bad ending is recorded already
        log.exception("could not start compensation of %s now; the reconciler will", workflow_id)
