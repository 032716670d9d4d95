"""ApprovalGateOperator: a person's decision as a durable pause (Airflow 3.3 HITL, ``awaiting_input``).

While it waits the task holds no worker and no triggerer slot. On top of Airflow's HITL it:
- records the request once in the approval bridge (``approval_requests``, request id = workflow:stage);
- announces it to the approver once (outbound message dedup), through ``ApprovalNotifier`` (an Airflow
  notifier), with the deep link to the request's entry on Airflow's Required Actions page;
- records the request's expiry, the approver's address and that link, from which the reminder scan
  (execution_plane.approvals.reminders) reminds and escalates;
- records the decision (approved / rejected / expired) in the bridge and the audit log; first answer wins;
- branches: approve -> ``approved_task_ids``; reject -> ``rejected_task_id``; no answer before
  ``response_timeout`` -> the default "Reject" is applied by Airflow and routed to ``expired_task_id``.

Airflow 3.3.2 can fail a task answered within ~1 s of waiting, and its retry's HITL request erases the
answer (apache/airflow#71580, #72716): before asking, the gate completes with an answer given to an earlier
execution of itself (``execution_plane.compat.hitl_early_answer``). Retries are part of that workaround:
keep ``retries >= 1``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param
from airflow.sdk.bases.branch import BranchMixIn

from execution_plane import telemetry
from execution_plane.approvals.notifier import REQUEST_BODY, REQUEST_SUBJECT, ApprovalNotifier
from execution_plane.compat.hitl_early_answer import earlier_answer

log = logging.getLogger(__name__)

APPROVE = "Approve"
REJECT = "Reject"


class ApprovalGateOperator(HITLOperator, BranchMixIn):
    inherits_from_skipmixin = True
    #: The gate's not-approved ending, when ``execution_plane.durable.approval`` built it.
    ending: Any = None
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

    def then(self, *targets: Any, label: str | None = None) -> Any:
        """Approval leads to ``targets`` (tasks or task outputs), wired downstream; returns the first one."""
        from airflow.sdk.definitions.edges import Label

        operators = [getattr(target, "operator", target) for target in targets]
        self.approved_task_ids = [op.task_id for op in operators]
        for op in operators:
            if label:
                self >> Label(label) >> op
            else:
                self >> op
        return targets[0]

    # -------------------------------------------------------------- waiting
    def execute(self, context: Any) -> Any:
        if self.response_timeout_hours_param:
            # Per-run expiry from the trigger form / API (validated by the DAG's params schema).
            hours = float(context["params"][self.response_timeout_hours_param])
            self.response_timeout = timedelta(hours=hours)
        # The saga (and the database driver behind it) only at run time: DAG files import this operator.
        from execution_plane.saga.steps import Saga

        started = datetime.now(UTC)
        link = self.required_actions_link(context)
        expires_at = started + self.response_timeout if self.response_timeout else None
        with Saga.from_context(context, actor=f"approval:{self.stage}") as saga:
            request_id = saga.record_approval_request(
                stage=self.stage,
                task_id=self.task_id,
                assignees=self.assignees,
                subject=self.subject,
                expires_at=expires_at,
                remind_to=self.notify_to if self.notify_channel else None,
                link=link,
            )
            decided = saga.approval_decision(request_id)
            if decided is not None:
                log.info("approval %s already decided (%s): not asking again", request_id, decided["status"])
                return self._route(context, decided["status"])
            opened_at = saga.approval_opened_at(request_id)
            earlier = earlier_answer(
                context, opened_at=opened_at, started=started, assignees=self.assignees, options=self.options
            )
            if earlier is not None:
                return self.execute_complete(context, earlier)
            # A request announced by an earlier try is not announced again (its text may differ: a try
            # that ran before the deploy that added the link). A try that crashed after the provider took the
            # announcement but before it was recorded sends it again under the same idempotency key, so its
            # text must be the same: the expiry it announces is the request's first one (when it was opened
            # plus the timeout), not this try's, which moves with each try (a provider refuses a key reused
            # with another body: seen in the chaos suite, a Postgres restart between the two, every later try
            # of the gate failed with 422 idempotency_key_reused).
            if self.notify_channel and self.notify_to and not saga.approval_notified(request_id):
                notifier = ApprovalNotifier(
                    saga=saga,
                    approval=self.announcement(link=link, opened_at=opened_at),
                    step=f"{self.stage}.approval_requested",
                    template=f"approval_request:{self.stage}",
                    to=self.notify_to,
                    subject=REQUEST_SUBJECT,
                    body=REQUEST_BODY,
                    channel=self.notify_channel,
                )
                notifier(context)
                sent = notifier.sent or {}
                saga.set_notified(request_id, sent["message_id"])
        telemetry.incr("wait.parked", kind="approval", workflow=self.dag_id)
        return super().execute(context)

    def announcement(self, *, link: str, opened_at: datetime) -> dict[str, str]:
        """What the request's announcement says: the same for every try of the gate (see ``execute``)."""
        expiry = opened_at.astimezone(UTC) + self.response_timeout if self.response_timeout else None
        return {
            "subject": self.subject,
            "message": self.notify_body or f"{self.subject}\n\n{self.body or ''}",
            "link": link,
            "expires_at": f"{expiry:%Y-%m-%d %H:%M}" if expiry else "never",
        }

    def required_actions_link(self, context: Any) -> str:
        """This request's entry on Airflow's Required Actions page (Airflow's own URL for it, on
        ``[api] base_url``; the path alone where no base URL is configured)."""
        try:
            return self.generate_link_to_ui_from_context(context=context)
        except ValueError:
            ti = context["task_instance"]
            return (
                f"/dags/{ti.dag_id}/runs/{ti.run_id}/tasks/{ti.task_id}/required_actions"
                f"?map_index={ti.map_index}"
            )

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
        # The username: the gate assigns people by name, and FAB's user id is a number (Simple's is the name).
        decided_by = None if timed_out else str(user.get("name") or user.get("id"))
        from execution_plane.saga.keys import approval_request_id
        from execution_plane.saga.steps import Saga

        with Saga.from_context(context, actor=f"approval:{self.stage}") as saga:
            request_id = approval_request_id(saga.workflow_id, self.stage)
            if saga.record_decision(request_id, status=status, decided_by=decided_by, comment=comment):
                self._count_decision(status, saga.approval_opened_at(request_id), self.dag_id)
            else:
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

    @staticmethod
    def _count_decision(status: str, opened_at: datetime, workflow: str) -> None:
        """Once per request (its first decision): the wait resumed, how long it lasted, how it ended."""
        telemetry.incr("wait.resumed", kind="approval", outcome=status, by="worker", workflow=workflow)
        telemetry.timing("wait.duration", datetime.now(UTC) - opened_at, kind="approval", workflow=workflow)
        if status == "expired":
            telemetry.incr("approval.expired", workflow=workflow)
        else:
            telemetry.incr("approval.answered", decision=status, workflow=workflow)

    def _route(self, context: Any, status: str) -> Any:
        if status == "approved":
            branches: list[str] = list(self.approved_task_ids)
        elif status == "expired":
            branches = [self.expired_task_id]
        else:
            branches = [self.rejected_task_id]
        return self.do_branch(context=context, branches_to_execute=branches)


class LabelledChoiceOperator(ApprovalGateOperator):
    """An approval gate whose person sees two other words, e.g. "Re-negotiate" / "Close deal".

    The first label routes and is recorded as an approval, the second as a rejection; no answer in time
    applies the second (recorded as expired). The bridge, the early-answer guard and the branching are the
    gate's.
    """

    def __init__(self, *, labels: tuple[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.labels = labels
        self._as_gate = {labels[0]: APPROVE, labels[1]: REJECT}
        self._as_label = {APPROVE: labels[0], REJECT: labels[1]}
        self.options = list(labels)
        self.defaults = [labels[1]]
        self.validate_defaults()

    def validate_chosen_options(self, chosen_options: list[str]) -> None:
        super().validate_chosen_options([self._as_label.get(option, option) for option in chosen_options])

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        chosen = [self._as_gate.get(option, option) for option in event.get("chosen_options") or []]
        return super().execute_complete(context, {**event, "chosen_options": chosen})
