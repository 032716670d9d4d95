"""``ApprovalNotifier``: every message about an approval (its request, a reminder, an escalation), as an
Airflow notifier (``airflow.sdk.BaseNotifier``) whose delivery is the ledger's message send.

Why a notifier of our own rather than the SMTP provider's ``SmtpNotifier``: that one sends on every call,
and a gate's retry, a re-run of the reminder scan or a duplicate call must not write to a person twice. This
one keeps what the notifier mechanism gives (subject and body are Jinja templates, ``template_fields``,
rendered against the Airflow context with the approval merged into it as ``approval``; callable with a
context wherever Airflow calls notifiers) and delivers through ``Saga.send_message``: one message id per
(workflow, step, recipient, template) in ``outbound_messages``, a second call replays, the provider gets the
message id as its ``Idempotency-Key``. The message's audit row (``audit_action``) is written in the send's
own transaction, so it exists exactly when the message was sent.

A notifier renders its templates in place (``BaseNotifier.__call__``): make one per message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)

REQUEST_SUBJECT = "{{ approval.subject }}"
REQUEST_BODY = """{{ approval.message }}

Answer it on Airflow's Required Actions page: {{ approval.link }}
It expires at {{ approval.expires_at }} UTC; without an answer by then, it is not approved."""

REMINDER_SUBJECT = "Reminder: {{ approval.subject }}"
REMINDER_BODY = """Your decision is still needed: "{{ approval.subject }}" (stage {{ approval.stage }} of \
{{ approval.workflow_id }}), asked {{ approval.created_at }} UTC.
It expires at {{ approval.expires_at }} UTC, {{ approval.hours_left }} h from now; \
without an answer by then, it is not approved.

Answer it on Airflow's Required Actions page: {{ approval.link }}"""

ESCALATION_SUBJECT = "Overdue approval: {{ approval.subject }}"
ESCALATION_BODY = """{{ approval.approver }} has not answered "{{ approval.subject }}" \
(stage {{ approval.stage }} of {{ approval.workflow_id }}), asked {{ approval.created_at }} UTC.
It expires at {{ approval.expires_at }} UTC; without an answer by then, it is not approved and the workflow \
is undone.

You are told as {{ approval.approver }}'s escalation contact: please see that it is answered.
The request on Airflow's Required Actions page: {{ approval.link }}"""


class ApprovalNotifier(BaseNotifier):
    """One message about one approval, sent once through the ledger.

    ``approval`` is what the templates see (``approval.subject``, ``.link``, ...); ``step`` and ``template``
    name the message in the ledger (its id is derived from them, the workflow and the recipient).
    """

    template_fields: Sequence[str] = ("subject", "body")

    def __init__(
        self,
        *,
        saga: Saga,
        approval: Mapping[str, Any],
        step: str,
        template: str,
        to: str,
        subject: str,
        body: str,
        channel: str = "email",
        audit_action: str | None = None,
        audit_details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.saga = saga
        self.approval = dict(approval)
        self.step = step
        self.template = template
        self.to = to
        self.subject = subject
        self.body = body
        self.channel = channel
        self.audit_action = audit_action
        self.audit_details = dict(audit_details or {})
        self.sent: dict[str, Any] | None = None
        #: This call sent the message (False: the ledger replayed an earlier send).
        self.sent_now = False

    def _update_context(self, context: Any) -> Any:
        context = super()._update_context(context)
        context["approval"] = self.approval
        return context

    def notify(self, context: Any) -> None:
        from execution_plane.saga import audit

        def record(cur: Any, result: dict[str, Any]) -> None:
            self.sent_now = True
            if self.audit_action:
                audit.append(
                    cur,
                    actor=self.saga.actor,
                    workflow_id=self.saga.workflow_id,
                    action=self.audit_action,
                    details={
                        **self.audit_details,
                        "to": self.to,
                        "channel": self.channel,
                        "message_id": result.get("message_id"),
                    },
                )

        self.sent = self.saga.send_message(
            self.step,
            channel=self.channel,
            to=self.to,
            template=self.template,
            subject=self.subject,
            body=self.body,
            on_done=record,
        )
        log.info("%s: %s to %s (%s)", self.saga.workflow_id, self.template, self.to, self.sent["message_id"])
