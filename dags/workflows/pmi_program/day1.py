"""Day 1, the same shape for every function: an attempt of the function's work, and when it fails after its
automatic retries, a pause of that function only for a person to retry or skip it.

    attempt_1 --(failed)--> paused_1 --> decision_1 --Retry--> attempt_2 --(failed)--> paused_2 --> ...
        |                                     \\--Skip--> skipped_1
        \\--(done)--> settled

An attempt is the function's own steps in order (``workflows.pmi_program.<function>.integrate``), each an
idempotent saga step: a retry replays what is done and redoes only what failed. A failed attempt is a failed
task (Airflow's retries spent); its ``paused`` step records the error and asks the integration lead, and the
other functions go on. Skip leaves the function's remaining Day-1 work to be done outside the program (it
shows as open on every phase checklist). The last attempt failing too leaves the function ``failed``: a
failure that cannot be resolved, which stops the program once the other functions have settled
(``program.day1_closed``).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from execution_plane.durable import Run, step
from workflows.pmi_program.common import LEAD_EMAIL, decision_stage, function_rows, set_function

log = logging.getLogger(__name__)


def function_module(function: str) -> Any:
    return importlib.import_module(f"workflows.pmi_program.{function}")


def only_after_a_failed_attempt(run: Run, function: str, number: int) -> None:
    """``all_failed`` also fires when the attempt never ran (``upstream_failed``: something before Day 1
    failed): then there is no failure to ask about; skip, and the run fails where it really failed."""
    from airflow.sdk.exceptions import AirflowSkipException

    from execution_plane.compat.fail_fast import failed_task_ids

    task_id = f"{function}.attempt_{number}"
    if task_id not in failed_task_ids(run.context):
        raise AirflowSkipException(f"{task_id} did not run: nothing to decide")


@step
def attempt(
    run: Run, plan: dict[str, Any], day1: dict[str, Any], function: str, number: int
) -> dict[str, Any]:
    """One attempt of ``function``'s Day-1 work; its error is recorded for the person before it fails."""
    saga = run.saga
    with saga.conn() as conn, conn.cursor() as cur:
        set_function(cur, saga.workflow_id, function, status="running", attempts=number)
    try:
        result = function_module(function).integrate(run, plan, day1)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
        with saga.conn() as conn, conn.cursor() as cur:
            set_function(cur, saga.workflow_id, function, last_error=error)
        raise

    def write(cur: Any) -> dict[str, Any]:
        set_function(cur, saga.workflow_id, function, status="done", result=result)
        return {"function": function, "status": "done", **result}

    return saga.db_write(f"{function}.done", write, request={"function": function})


@step(trigger_rule="all_failed")
def paused(run: Run, function: str, number: int) -> dict[str, Any]:
    """Attempt ``number`` failed for good: only this function pauses; the integration lead is asked."""
    from workflows.pmi_program.domain import decision_request

    only_after_a_failed_attempt(run, function, number)
    saga = run.saga
    with saga.conn() as conn, conn.cursor() as cur:
        error = function_rows(cur, saga.workflow_id)[function]["last_error"] or "the step's process ended"
    stage = decision_stage(function, number)
    message = decision_request(function, number, error, f"{function}.decision_{number}")

    def write(cur: Any) -> dict[str, Any]:
        set_function(cur, saga.workflow_id, function, status="paused")
        return {"function": function, "attempt": number, "error": error}

    saga.db_write(f"{function}.paused.{number}", write, request={"attempt": number})
    saga.send_message(
        f"{stage}.requested",
        channel="email",
        to=LEAD_EMAIL,
        template=f"approval_request:{stage}",
        subject=message.subject,
        body=message.body,
    )
    return {"function": function, "attempt": number, "error": error, "decision_request": message.body}


@step
def skipped(run: Run, function: str, number: int) -> dict[str, Any]:
    """The integration lead chose Skip (or did not answer in time): the rest of the function's Day-1 work is
    left to the line organisation; the program goes on."""
    decision = run.decision(decision_stage(function, number)) or {}
    decided_by = decision.get("decided_by") or "nobody (timed out)"
    saga = run.saga

    def write(cur: Any) -> dict[str, Any]:
        set_function(cur, saga.workflow_id, function, status="skipped", decided_by=decided_by)
        return {"function": function, "status": "skipped", "decided_by": decided_by}

    return saga.db_write(f"{function}.skipped", write, request={"after_attempt": number})


@step(trigger_rule="all_failed")
def unresolved(run: Run, function: str) -> dict[str, Any]:
    """The last attempt failed too: the function cannot be resolved (the program stops at Day 1's close)."""
    from workflows.pmi_program.common import ATTEMPTS

    only_after_a_failed_attempt(run, function, ATTEMPTS)
    saga = run.saga

    def write(cur: Any) -> dict[str, Any]:
        set_function(cur, saga.workflow_id, function, status="failed")
        return {"function": function, "status": "failed"}

    return saga.db_write(f"{function}.failed", write, request={"function": function})
