"""An approval answered to an earlier execution of its task: found again instead of asked again.

Airflow 3.3.2 loses an answer in three ways, all ending with the task's next execution asking again:

1. **Answered before the scheduler saw the worker exit** (apache/airflow#71580 and #72716, stale executor
   events for a resumed task; fix PRs #71579 and #72767 open). The worker parks the task in
   ``awaiting_input`` and exits; the answer (``PATCH .../hitlDetails``) moves it to ``scheduled``; the next
   scheduler loop queues it again, same try number, hands it to a worker, and only then reads the first
   worker's exit. ``SchedulerJobRunner.process_executor_events`` sees "finished with state success" for a
   task instance that is ``queued`` and no longer known to the executor (``BaseExecutor.has_task``: the
   workload left ``queued_tasks`` and nothing fills ``running``), takes it for a task killed externally
   and fails it: with retries, ``up_for_retry``. A person is never that fast; a machine answering
   within about a second of the wait starting is.
2. **The retry's request erases the answer** (by design, PR #53824: "keep only the latest response"). The
   retry's ``HITLOperator.execute`` upserts its request (Execution API ``upsert_hitl_detail``), which
   clears the stored response. The failed try is not kept in history on that path (``GET .../hitlDetails/
   tries/1`` answers 404), so the answer survives only in Airflow's event log, where the PATCH route's
   ``action_logging`` wrote it (event ``update_hitl_detail``: user, options, comment).
3. **The same try runs twice after a scheduler crash** (seen by the project's chaos suite; no upstream
   report). The second execution's upsert erases an answer given to the first, as in 2, without a new try.

:func:`earlier_answer` is what the approval gate asks before it waits: whenever an earlier execution can
have been answered (a retry, or the approval request was opened before this execution started), it reads,
through the public REST API, the current and earlier tries' hitlDetails, then the event log. The log also
holds refused attempts, so only an entry after the request was opened, by an assigned user, with valid
options counts, the earliest one. The gate then completes with that answer. Retries are part of the
workaround: keep ``retries >= 1`` on the gate.

Canary: ``tests/plugins/compat/test_hitl_early_answer.py`` drives Airflow's scheduler loop, a worker and the
REST API in process against plain ``ApprovalOperator`` and forces each interleaving. When the answered task
is no longer failed there (1), and the answer is still readable by the retry (2), delete this module and
its call in ``operators/approval.py``; keep it while the project still sees 3.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)

UPSTREAM_REPORTS = ("apache/airflow#71580", "apache/airflow#72716")
#: The event Airflow's PATCH .../hitlDetails route writes to the event log (``action_logging``).
ANSWER_EVENT = "update_hitl_detail"


class AnswerSource(Protocol):
    """Where earlier answers are read: Airflow's public REST API (``execution_plane.saga.airflow_api``)."""

    def hitl_detail_of_try(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1
    ) -> dict[str, Any] | None: ...

    def event_logs(
        self, *, dag_id: str, run_id: str, task_id: str, event: str, limit: int = 100
    ) -> list[dict[str, Any]]: ...


def earlier_answer(
    context: Mapping[str, Any],
    *,
    opened_at: datetime,
    started: datetime,
    assignees: Collection[str],
    options: Collection[str],
    api: AnswerSource | None = None,
) -> dict[str, Any] | None:
    """The answer given to an earlier execution of this HITL task, as the resume event ``execute_complete``
    takes, or None.

    :param opened_at: when the approval request was first opened (by whichever execution).
    :param started: when this execution started; a request opened before it was opened by an earlier run of
        this same try (case 3), so the current try's detail is read too.
    """
    ti = context["ti"]
    reopened = opened_at < started
    if ti.try_number <= 1 and not reopened:
        return None
    if api is None:
        # The REST client (httpx) only here, at run time: DAG files import the gate that calls this.
        from execution_plane.saga.airflow_api import AirflowApi

        api = AirflowApi()
    answer = _answer_of_a_try(api, ti, first=ti.try_number if reopened else ti.try_number - 1)
    if answer is None:
        for entry in api.event_logs(
            dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, event=ANSWER_EVENT
        ):
            answer = logged_answer(entry, opened_at, assignees=assignees, options=options)
            if answer is not None:
                break
    if answer is not None:
        log.warning(
            "%s.%s (run %s, try %s): answer received by an earlier execution (Airflow 3.3.2 early-answer "
            "failure, %s): completing with it",
            ti.dag_id,
            ti.task_id,
            ti.run_id,
            ti.try_number,
            " / ".join(UPSTREAM_REPORTS),
        )
    return answer


def _answer_of_a_try(api: AnswerSource, ti: Any, *, first: int) -> dict[str, Any] | None:
    # This execution has not asked yet: an answer on the current try's detail was given to an earlier one.
    for try_number in range(first, 0, -1):
        detail = api.hitl_detail_of_try(ti.dag_id, ti.run_id, ti.task_id, try_number, ti.map_index)
        if detail and detail.get("response_received"):
            responded_at = detail.get("responded_at")
            return {
                "chosen_options": detail.get("chosen_options") or [],
                "params_input": detail.get("params_input") or {},
                "responded_at": datetime.fromisoformat(responded_at) if responded_at else None,
                "responded_by_user": detail.get("responded_by_user"),
                "timedout": detail.get("responded_by_user") is None,
            }
    return None


def logged_answer(
    entry: Mapping[str, Any], opened_at: datetime, *, assignees: Collection[str], options: Collection[str]
) -> dict[str, Any] | None:
    """An ``update_hitl_detail`` event-log entry as a HITL resume event, if Airflow can have accepted it:
    logged after the request was opened, by an assigned user, with valid options (the log also keeps
    refused attempts: a 403 or a 400 is logged too)."""
    when = datetime.fromisoformat(str(entry.get("when")).replace("Z", "+00:00"))
    user = entry.get("owner")
    try:
        extra = json.loads(entry.get("extra") or "{}")
    except ValueError:
        return None
    chosen = extra.get("chosen_options") or []
    if when < opened_at or user not in assignees or not chosen or set(chosen) - set(options):
        return None
    return {
        "chosen_options": chosen,
        "params_input": extra.get("params_input") or {},
        "responded_at": when,
        "responded_by_user": {"id": user, "name": user},
        "timedout": False,
    }
