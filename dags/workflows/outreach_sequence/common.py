"""What every part of outreach_sequence shares: its names, the shape of its graph and a few small reads."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from execution_plane.durable import Run
    from execution_plane.saga.steps import Saga
    from include.domain.quiet_hours import SendWindow
    from workflows.outreach_sequence.domain import Contact

DAG_ID = "outreach_sequence"
#: Refuses bad input before anything is registered (its failure starts no compensation).
CHECK_TASK = "check_request"
#: The graph holds this many messages (a run's ``max_messages`` may be fewer), then the reply window.
MAX_MESSAGES = 5
#: What a recipient did with a message that stops the sequence: ``execution_plane.hooks.messaging``'s
#: ``RECIPIENT_EVENT_TYPES`` (the DAG file cannot load the hook; a test keeps the two equal).
RECIPIENT_EVENTS = ("message.replied", "message.bounced", "message.complained", "message.opted_out")
MEETING_DAG = "meeting_booking"
MEETING_STAGE = "meeting"
#: The sequence's statuses that are endings (``active`` is the only other).
ENDED = ("handed_over", "meeting", "no_reply", "stopped", "undeliverable", "failed")
CRM_IN_SEQUENCE = "in_sequence"


def messages_key(run: Run) -> str:
    """The correlation key the recipient's acts are reported under (every conversation the run opens)."""
    return run.correlation_key("messages")


def window_of(params: Any) -> SendWindow:
    from include.domain.quiet_hours import SendWindow

    return SendWindow(str(params["send_window_start"]), str(params["send_window_end"]))


def db_now(cur: Any) -> datetime:
    cur.execute("SELECT now()")
    moment: datetime = cur.fetchone()[0]
    return moment


def enrolment_request(run: Run) -> dict[str, Any]:
    """What the enrolment was asked for (the key of its recorded result)."""
    params = run.params
    return {
        "contact_id": params["contact_id"],
        "campaign": params["campaign"],
        "channels": list(params["channels"]),
        "max_messages": int(params["max_messages"]),
    }


def enrolment(run: Run) -> dict[str, Any]:
    """The enrolment as recorded once (the contact as the CRM held them then, the channels in order, the
    language and dialect to write in)."""
    found = run.saga.stored_result("sequence", enrolment_request(run))
    if found is None:
        raise RuntimeError(f"{run.workflow_id}: not enrolled")
    return found


def contact_of(enrolled: dict[str, Any]) -> Contact:
    from workflows.outreach_sequence.domain import Contact

    return Contact.model_validate(enrolled["contact"])


def sequence_row(cur: Any, workflow_id: str) -> dict[str, Any]:
    cur.execute(
        "SELECT status, outcome, reason, messages_sent, reply, meeting_workflow_id, max_messages, contact_id"
        " FROM outreach_sequences WHERE workflow_id = %s",
        (workflow_id,),
    )
    row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"{workflow_id}: no sequence record")
    names = ("status", "outcome", "reason", "messages_sent", "reply", "meeting_workflow_id", "max_messages")
    return dict(zip((*names, "contact_id"), row, strict=True))


def end_sequence(saga: Saga, status: str, outcome: str, reason: str) -> dict[str, Any]:
    """Record how the sequence ended (once: a retry replays it) and cancel every send still pending."""

    def write(cur: Any) -> dict[str, Any]:
        cur.execute(
            "UPDATE outreach_sends SET status = 'cancelled', cancelled_at = now(), cancel_reason = %s"
            " WHERE workflow_id = %s AND status = 'scheduled'",
            (reason[:500], saga.workflow_id),
        )
        cancelled = cur.rowcount
        cur.execute(
            "UPDATE outreach_sequences SET status = %s, outcome = %s, reason = %s, ended_at = now(),"
            " updated_at = now() WHERE workflow_id = %s AND status = 'active'",
            (status, outcome, reason[:2000], saga.workflow_id),
        )
        return {"status": status, "outcome": outcome, "reason": reason, "pending_cancelled": cancelled}

    return saga.db_write("ended", write, request={"status": status, "outcome": outcome})


def update_contact(
    saga: Saga, step: str, contact_id: str, status: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """Tell the CRM something about the contact, once (``step`` names it in the ledger)."""
    from execution_plane.hooks.crm import CrmHook

    with CrmHook() as hook:
        return saga.call(
            step,
            side_effect="crm.update_contact",
            request={"contact_id": contact_id, "status": status, "fields": fields},
            call=lambda key: hook.update_contact(
                contact_id, status=status, fields=fields, idempotency_key=key
            ),
        )
