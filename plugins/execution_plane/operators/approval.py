"""ApprovalGateOperator: a person's decision as a durable pause (Airflow 3.3 HITL, ``awaiting_input``).

While it waits the task holds no worker and no triggerer slot. On top of Airflow's HITL it:
- records the request once in the approval bridge (``approval_requests``, request id = workflow:stage);
- announces it to the approver once (outbound message dedup);
- records the decision (approved / rejected / expired) in the bridge and the audit log; first answer wins;
- branches: approve -> ``approved_task_ids``; reject -> ``rejected_task_id``; no answer before
  ``response_timeout`` -> the default "Reject" is applied by Airflow and routed to ``expired_task_id``.

Guard for Airflow 3.3.2: an answer arriving within ~1 s of the task starting to wait can make the
scheduler fail the task (stale executor event, "finished with state success, but the task instance's
state attribute is queued"). The task then retries, and the retry's own HITL request ERASES the answer
(same task-instance id, the detail is upserted with no response): Airflow itself no longer knows it.
The answer survives in two places the retry reads through the public REST API, in this order: the
hitlDetails of an earlier try (when Airflow moved it to history), then Airflow's event log, where the
PATCH was logged (``update_hitl_detail``: user, options, comment). The log also holds refused attempts,
so only an entry after the request was opened, by an assigned user, with valid options counts, the
earliest one. The retry then completes with that answer instead of asking again. Retries are therefore
part of the guard: keep ``retries >= 1``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param
from airflow.sdk.bases.branch import BranchMixIn

log = logging.getLogger(__name__)

APPROVE = "Approve"
REJECT = "Reject"


class ApprovalGateOperator(HITLOperator, BranchMixIn):
    inherits_from_skipmixin = True
    template_fields: Sequence[str] = (*HITLOperator.template_fields, "notify_to", "notify_body")

    def __init__(
        self,
        *,
        stage: str,
        assignees: list[str],
        approved_task_ids: list[str] | str,
        rejected_task_id: str,
        expired_task_id: str | None = None,
        response_timeout: timedelta,
        response_timeout_hours_param: str | None = None,
        notify_channel: str | None = "email",
        notify_to: str | None = None,
        notify_body: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "params", {"comment": Param("", type="string", description="Reason for the decision")}
        )
        kwargs.setdefault("retries", 3)
        kwargs.setdefault("retry_delay", timedelta(seconds=2))
        super().__init__(
            options=[APPROVE, REJECT],
            defaults=[REJECT],
            multiple=False,
            assigned_users=[{"id": user, "name": user} for user in assignees],
            response_timeout=response_timeout,
            **kwargs,
        )
        self.response_timeout_hours_param = response_timeout_hours_param
        self.stage = stage
        self.assignees = assignees
        self.approved_task_ids = (
            [approved_task_ids] if isinstance(approved_task_ids, str) else approved_task_ids
        )
        self.rejected_task_id = rejected_task_id
        self.expired_task_id = expired_task_id or rejected_task_id
        self.notify_channel = notify_channel
        self.notify_to = notify_to
        self.notify_body = notify_body

    # -------------------------------------------------------------- waiting
    def execute(self, context: Any) -> Any:
        if self.response_timeout_hours_param:
            # Per-run expiry from the trigger form / API (validated by the DAG's params schema).
            hours = float(context["params"][self.response_timeout_hours_param])
            self.response_timeout = timedelta(hours=hours)
        # The saga (and the database driver behind it) only at run time: DAG files import this operator.
        from execution_plane.saga.steps import Saga

        started = datetime.now(UTC)
        with Saga.from_context(context, actor=f"approval:{self.stage}") as saga:
            request_id = saga.record_approval_request(
                stage=self.stage, task_id=self.task_id, assignees=self.assignees, subject=self.subject
            )
            decided = saga.approval_decision(request_id)
            if decided is not None:
                log.info("approval %s already decided (%s): not asking again", request_id, decided["status"])
                return self._route(context, decided["status"])
            opened_at = saga.approval_opened_at(request_id)
            # Opened by an earlier execution: a retry, or the same try run again (Airflow 3.3.2 queues a
            # task a crashed scheduler had queued once more, same try number, even when a worker already
            # ran it; the second run's HITL upsert then erases an answer given to the first).
            reopened = opened_at < started
            earlier = self._answer_of_an_earlier_try(context, opened_at, reopened=reopened)
            if earlier is not None:
                log.warning(
                    "approval %s: answer received by an earlier try (Airflow 3.3.2 early-answer "
                    "failure); completing with it",
                    request_id,
                )
                return self.execute_complete(context, earlier)
            if self.notify_channel and self.notify_to:
                sent = saga.send_message(
                    f"{self.stage}.approval_requested",
                    channel=self.notify_channel,
                    to=self.notify_to,
                    template=f"approval_request:{self.stage}",
                    subject=self.subject,
                    body=self.notify_body or f"{self.subject}\n\n{self.body or ''}",
                )
                saga.set_notified(request_id, sent["message_id"])
        return super().execute(context)

    def _answer_of_an_earlier_try(
        self, context: Any, opened_at: datetime, *, reopened: bool = False
    ) -> dict[str, Any] | None:
        """An answer given to an earlier execution of this gate: to an earlier try, or (``reopened``) to an
        earlier run of this same try. Read from the tries' HITL details, then from the event log, which
        keeps answers the HITL upsert of a later execution erased."""
        ti = context["ti"]
        if ti.try_number <= 1 and not reopened:
            return None
        from execution_plane.saga.airflow_api import AirflowApi

        api = AirflowApi()
        # This execution has not asked yet: an answer on the current try's detail was given to an earlier one.
        first = ti.try_number if reopened else ti.try_number - 1
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
        for entry in api.event_logs(
            dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, event="update_hitl_detail"
        ):
            answer = self._logged_answer(entry, opened_at)
            if answer is not None:
                return answer
        return None

    def _logged_answer(self, entry: dict[str, Any], opened_at: datetime) -> dict[str, Any] | None:
        """An ``update_hitl_detail`` event-log entry as a HITL event, if it can have been accepted."""
        import json

        when = datetime.fromisoformat(str(entry.get("when")).replace("Z", "+00:00"))
        user = entry.get("owner")
        try:
            extra = json.loads(entry.get("extra") or "{}")
        except ValueError:
            return None
        chosen = extra.get("chosen_options") or []
        if when < opened_at or user not in self.assignees or not chosen or set(chosen) - set(self.options):
            return None
        return {
            "chosen_options": chosen,
            "params_input": extra.get("params_input") or {},
            "responded_at": when,
            "responded_by_user": {"id": user, "name": user},
            "timedout": False,
        }

    # -------------------------------------------------------------- deciding
    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if "error" in event:
            self.process_trigger_event_error(event)
        chosen = list(event.get("chosen_options") or [])
        self.validate_chosen_options(chosen)
        user = event.get("responded_by_user") or {}
        timed_out = bool(event.get("timedout")) or not user
        status = "expired" if timed_out else "approved" if chosen == [APPROVE] else "rejected"
        comment = (event.get("params_input") or {}).get("comment") or None
        decided_by = None if timed_out else str(user.get("id") or user.get("name"))
        from execution_plane.saga.steps import Saga

        with Saga.from_context(context, actor=f"approval:{self.stage}") as saga:
            request_id = f"{saga.workflow_id}:{self.stage}"
            if not saga.record_decision(request_id, status=status, decided_by=decided_by, comment=comment):
                first = saga.approval_decision(request_id)
                if first is not None:
                    status, decided_by, comment = first["status"], first["decided_by"], first["comment"]
                log.info(
                    "approval %s was already decided (%s): the first decision stands", request_id, status
                )
        context["ti"].xcom_push(
            key="decision",
            value={"status": status, "decided_by": decided_by, "comment": comment, "stage": self.stage},
        )
        log.info("approval %s: %s by %s", self.stage, status, decided_by or "timeout")
        return self._route(context, status)

    def _route(self, context: Any, status: str) -> Any:
        if status == "approved":
            branches: list[str] = list(self.approved_task_ids)
        elif status == "expired":
            branches = [self.expired_task_id]
        else:
            branches = [self.rejected_task_id]
        return self.do_branch(context=context, branches_to_execute=branches)
