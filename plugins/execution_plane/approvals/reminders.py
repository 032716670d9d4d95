"""The approval reminder scan (run every few minutes by ``dags/approval_reminders.py``).

One pass reads the open approvals of running workflows that have an expiry (one indexed query of the
approval bridge), works out what the policy says is due for each at ``now`` (``policy.due``), leaves out
what was already sent (one query of the outbound messages by workflow and step) and sends the rest, each
through an ``ApprovalNotifier``: one message per (approval, kind), its audit row (``approval.reminded`` /
``approval.escalated``) in the same transaction.

Why a scan and not a timer per approval: a parked approval holds no worker and no triggerer slot and, with
``execution_plane.compat.parked_runs``, costs the scheduler nothing until it changes (docs/adr/0003); a
sensor or a deferred timer per approval would take a triggerer slot each, and a task that woke up in the
parked run would make the scheduler examine it again. The scan is one short task every few minutes whatever
the number of parked runs; its query cost grows with the open approvals, in the business database only.

Exactly once: a message id per (workflow, step, recipient, template) in ``outbound_messages`` and the step
in ``saga_steps`` (one effect per step) make a second send of the same (approval, kind) a replay, whatever
runs it (an overlapping scan, a retry after a crash between the provider's answer and our COMMIT). An
answer recorded after a pass read the approvals and before it sent can still be followed by that pass's
message (a window of the pass's length, seconds); nothing is sent for it by any later pass.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from execution_plane import telemetry
from execution_plane.approvals.notifier import (
    ESCALATION_BODY,
    ESCALATION_SUBJECT,
    REMINDER_BODY,
    REMINDER_SUBJECT,
    ApprovalNotifier,
)
from execution_plane.approvals.policy import Due, ReminderPolicy, approver, due, parse_policy
from execution_plane.saga.db import BUSINESS_DB_CONN_ID

log = logging.getLogger(__name__)

#: The Airflow Variable holding the policy (JSON, see ``policy``); absent: the defaults.
POLICY_VARIABLE = "approval_reminders"
ACTOR = "approval_reminders"


@dataclass(frozen=True)
class OpenApproval:
    request_id: str
    workflow_id: str
    stage: str
    assignees: tuple[str, ...]
    subject: str
    created_at: datetime
    expires_at: datetime
    remind_to: str | None
    link: str | None


def step_of(stage: str, kind: str) -> str:
    """The ledger step of a message about the approval of ``stage``: one per kind."""
    return f"{stage}.approval_escalation" if kind == "escalation" else f"{stage}.approval_reminder.{kind}"


def template_of(stage: str, kind: str) -> str:
    return f"approval_escalation:{stage}" if kind == "escalation" else f"approval_reminder.{kind}:{stage}"


def open_approvals(cur: Any) -> list[OpenApproval]:
    """Approvals still pending, with an expiry, of workflows still running (a run that ended without its gate
    deciding, e.g. stopped by its parent, leaves its request pending: nobody can answer it any more)."""
    cur.execute(
        "SELECT a.request_id, a.workflow_id, a.stage, a.assignees, a.subject, a.created_at, a.expires_at,"
        " a.remind_to, a.link FROM approval_requests a JOIN saga_workflows w ON w.workflow_id = a.workflow_id"
        " WHERE a.status = 'pending' AND a.expires_at IS NOT NULL AND w.status = 'running'"
        " ORDER BY a.expires_at"
    )
    return [
        OpenApproval(
            request_id=row[0],
            workflow_id=row[1],
            stage=row[2],
            assignees=tuple(row[3] or ()),
            subject=row[4],
            created_at=row[5],
            expires_at=row[6],
            remind_to=row[7],
            link=row[8],
        )
        for row in cur.fetchall()
    ]


def sent_steps(cur: Any, candidates: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (workflow id, step) pairs already sent their message."""
    if not candidates:
        return set()
    cur.execute(
        "SELECT m.workflow_id, m.step FROM outbound_messages m"
        " JOIN unnest(%s::text[], %s::text[]) AS c(workflow_id, step)"
        " ON m.workflow_id = c.workflow_id AND m.step = c.step WHERE m.status = 'sent'",
        ([w for w, _ in candidates], [s for _, s in candidates]),
    )
    return {(row[0], row[1]) for row in cur.fetchall()}


def load_policy() -> ReminderPolicy:
    """The policy from the Airflow Variable ``approval_reminders`` (the defaults without one)."""
    from airflow.sdk import Variable

    return parse_policy(Variable.get(POLICY_VARIABLE, default=None))


def _stamp(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M}"


def _notifier(approval: OpenApproval, message: Due, now: datetime, saga: Any) -> ApprovalNotifier:
    person = approver(approval.assignees)
    seen = {
        "request_id": approval.request_id,
        "workflow_id": approval.workflow_id,
        "stage": approval.stage,
        "subject": approval.subject,
        "approver": person or "the approver",
        "created_at": _stamp(approval.created_at),
        "expires_at": _stamp(approval.expires_at),
        "hours_left": f"{max((approval.expires_at - now).total_seconds(), 0) / 3600:.1f}",
        "link": approval.link or "(no link recorded)",
    }
    return ApprovalNotifier(
        saga=saga,
        approval=seen,
        step=step_of(approval.stage, message.kind),
        template=template_of(approval.stage, message.kind),
        to=message.to,
        subject=ESCALATION_SUBJECT if message.escalation else REMINDER_SUBJECT,
        body=ESCALATION_BODY if message.escalation else REMINDER_BODY,
        audit_action="approval.escalated" if message.escalation else "approval.reminded",
        audit_details={
            "request_id": approval.request_id,
            "stage": approval.stage,
            "kind": message.kind,
            "approver": person,
            "due_at": message.at.isoformat(),
            "expires_at": approval.expires_at.isoformat(),
        },
    )


def send_due(
    policy: ReminderPolicy,
    *,
    now: datetime | None = None,
    context: Mapping[str, Any] | None = None,
    conn_id: str = BUSINESS_DB_CONN_ID,
) -> dict[str, Any]:
    """One pass: send every reminder and escalation due at ``now`` (default: the present) and not yet sent.

    One approval the provider refuses does not keep the others from their messages: it is logged and the
    pass fails at the end (its task retries; what was sent replays)."""
    from execution_plane.saga.db import connect
    from execution_plane.saga.steps import Saga

    now = now or datetime.now(UTC)
    conn = connect(conn_id)
    try:
        with conn, conn.cursor() as cur:
            approvals = open_approvals(cur)
            wanted = [
                (approval, message)
                for approval in approvals
                for message in due(
                    policy,
                    opened=approval.created_at,
                    expires=approval.expires_at,
                    assignees=approval.assignees,
                    remind_to=approval.remind_to,
                    now=now,
                )
            ]
            done = sent_steps(cur, [(a.workflow_id, step_of(a.stage, m.kind)) for a, m in wanted])
    finally:
        conn.close()
    sent: list[dict[str, Any]] = []
    failures: list[str] = []
    for approval, message in wanted:
        if (approval.workflow_id, step_of(approval.stage, message.kind)) in done:
            continue
        try:
            with Saga.for_workflow(approval.workflow_id, actor=ACTOR, conn_id=conn_id) as saga:
                notifier = _notifier(approval, message, now, saga)
                notifier(dict(context or {}))
        except Exception:
            log.exception("could not send %s of %s", message.kind, approval.request_id)
            failures.append(f"{approval.request_id}:{message.kind}")
            continue
        if notifier.sent_now:
            telemetry.incr(
                "approval.reminder_sent", kind=message.kind, workflow=approval.workflow_id.split(":")[0]
            )
        sent.append(
            {
                "request_id": approval.request_id,
                "kind": message.kind,
                "to": message.to,
                "message_id": (notifier.sent or {}).get("message_id"),
            }
        )
    log.info(
        "approval reminders at %s: %d open, %d due, %d sent now",
        now.isoformat(),
        len(approvals),
        len(wanted),
        len(sent),
    )
    if failures:
        raise RuntimeError(f"could not send {failures} (the others were sent)")
    return {"open": len(approvals), "due": len(wanted), "sent": sent}
