"""DAG-level failure callback of every durable workflow: start its compensation.

Runs in the dag-processor (Airflow 3): no ORM, limited time, and it can be lost (killed processor,
SIGKILLed task). It therefore only asks the REST API to start the compensation run with a deterministic
id; the compensation DAG records the bad ending itself, and the reconciler starts any compensation a
lost callback never asked for.
"""

from __future__ import annotations

import logging
from typing import Any

from execution_plane.saga.airflow_api import start_compensation
from execution_plane.saga.keys import REQUEST_ID_PARAM, workflow_id

log = logging.getLogger(__name__)


def failure_reason(context: dict[str, Any]) -> str:
    ti = context.get("task_instance") or context.get("ti")
    reason = context.get("reason") or "run failed"
    exc = context.get("exception")
    if ti is not None:
        reason = f"{reason}: task {ti.task_id} failed"
    if exc:
        reason = f"{reason} ({type(exc).__name__}: {str(exc)[:500]})"
    return str(reason)


def start_compensation_on_failure(context: dict[str, Any]) -> None:
    dag_run = context.get("dag_run")
    if dag_run is None:
        log.error("failure callback without a dag_run in its context; the reconciler will compensate")
        return
    params = context.get("params") or {}
    request_id = params.get(REQUEST_ID_PARAM) or (dag_run.conf or {}).get(REQUEST_ID_PARAM)
    if not request_id:
        log.error("run %s has no %s: nothing to compensate", dag_run.run_id, REQUEST_ID_PARAM)
        return
    wf = workflow_id(dag_run.dag_id, str(request_id))
    try:
        start_compensation(
            wf,
            reason=failure_reason(context),
            bad_ending="failed",
            source=f"on_failure_callback:{dag_run.run_id}",
        )
    except Exception:  # the reconciler will start it; a callback must never raise into the processor
        log.exception("could not start compensation of %s; the reconciler will", wf)
