"""Enrolment: the request checked, the contact read from the CRM (channels they can be reached on, the
language and, for Arabic, the dialect to write in), the sequence recorded, the CRM told the contact is in a
sequence, the first message planned for the first moment their send window allows."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, routed_step, step
from execution_plane.saga.compensations import compensation
from workflows.outreach_sequence.common import (
    CRM_IN_SEQUENCE,
    ENDED,
    db_now,
    enrolment_request,
    messages_key,
    window_of,
)

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)


@step
def check_request(run: Run) -> None:
    """Refuse what the params' schema cannot: a send window that does not end after it starts (each end is
    HH:MM by the schema). Nothing is recorded or sent before this passes."""
    try:
        window_of(run.params)
    except ValueError as exc:
        raise ValueError(f"send_window_end: {exc}") from None


@routed_step
def enrol(run: Run) -> dict[str, Any]:
    """Register the workflow and record the sequence; ``next``: ``scheduled`` (the CRM told, message 1 planned
    at the first allowed moment: ``send_at``) or ``ended`` (no channel the contact consented to: recorded)."""
    from execution_plane.hooks.crm import CrmHook
    from execution_plane.saga.compensations import Compensation
    from workflows.outreach_sequence.domain import (
        Contact,
        channel_plan,
        choose_dialect,
        consented,
        language_of,
    )

    params = run.params
    with CrmHook() as hook:
        contact = Contact.model_validate(hook.get_contact(str(params["contact_id"])))
        language = language_of(contact)
        dialect = choose_dialect(contact.country, _dialect_written(contact)) if language == "ar" else None
        plan = channel_plan(contact, list(params["channels"]))
        reachable = consented(contact, plan)
        with run.saga as saga:
            saga.register()

            def write(cur: Any) -> dict[str, Any]:
                cur.execute(
                    "INSERT INTO outreach_sequences (workflow_id, contact_id, campaign, language, dialect,"
                    " country, time_zone, channels, owner_email, max_messages, status)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'active')"
                    " ON CONFLICT (workflow_id) DO NOTHING",
                    (
                        saga.workflow_id,
                        contact.contact_id,
                        params["campaign"],
                        language,
                        dialect,
                        contact.country,
                        contact.time_zone,
                        plan,
                        contact.owner_email,
                        int(params["max_messages"]),
                    ),
                )
                reason = None
                if not reachable:
                    reason = (
                        f"no channel of {plan or list(params['channels'])} that {contact.contact_id}"
                        " consented to and has an address on"
                    )
                    cur.execute(
                        "UPDATE outreach_sequences SET outcome = 'no_consent', reason = %s"
                        " WHERE workflow_id = %s",
                        (reason, saga.workflow_id),
                    )
                return {
                    "contact": contact.model_dump(mode="json"),
                    "channels": plan,
                    "language": language,
                    "dialect": dialect,
                    "undeliverable": reason,
                }

            enrolled = saga.db_write(
                "sequence",
                write,
                request=enrolment_request(run),
                compensation=Compensation("outreach_sequence.close_record", {}),
            )
            if enrolled["undeliverable"]:
                return {"next": "ended", "reason": enrolled["undeliverable"]}
            saga.call(
                "crm.enrolled",
                side_effect="crm.update_contact",
                request={"contact_id": contact.contact_id, "status": CRM_IN_SEQUENCE},
                call=lambda key: hook.update_contact(
                    contact.contact_id,
                    status=CRM_IN_SEQUENCE,
                    fields={"outreach_workflow": saga.workflow_id, "outreach_campaign": params["campaign"]},
                    idempotency_key=key,
                ),
                compensation=Compensation("outreach_sequence.tell_crm", {"contact_id": contact.contact_id}),
            )
            first = schedule_message(run, saga, 1, after=None)
    log.info(
        "%s enrolled: %s, %s%s, channels %s; message 1 at %s",
        run.workflow_id,
        contact.contact_id,
        language,
        f" ({dialect})" if dialect else "",
        plan,
        first["send_at"],
    )
    return {"next": "scheduled", "send_at": first["send_at"], "correlation_key": messages_key(run)}


def _dialect_written(contact: Any) -> str | None:
    """The dialect of what the contact wrote to us (the dialect service), when it tells one."""
    if not contact.last_message.strip():
        return None
    from execution_plane.services.dialect import detect_dialect_task

    detected = detect_dialect_task({"text": contact.last_message})
    return str(detected["dialect"])


def schedule_message(run: Run, saga: Saga, step_no: int, *, after: Any) -> dict[str, Any]:
    """Plan message ``step_no`` (once) for the first moment the contact's send window allows at or after
    ``after`` (now, for the first): a send pending until its time comes, cancelled if the sequence stops."""
    from execution_plane.saga.compensations import Compensation
    from include.domain.quiet_hours import local_label, next_allowed
    from workflows.outreach_sequence.common import enrolment
    from workflows.outreach_sequence.domain import template_for

    params = run.params
    enrolled = enrolment(run)
    contact = enrolled["contact"]
    template = template_for(
        str(params["campaign"]), step_no, int(params["max_messages"]), str(enrolled["language"])
    )

    def write(cur: Any) -> dict[str, Any]:
        now = db_now(cur)
        earliest = max(now, after) if after is not None else now
        send_at = next_allowed(earliest, contact["time_zone"], contact["country"], window_of(params))
        cur.execute(
            "INSERT INTO outreach_sends (workflow_id, step_no, template, send_at, status, local_time)"
            " VALUES (%s, %s, %s, %s, 'scheduled', %s) ON CONFLICT (workflow_id, step_no) DO NOTHING",
            (saga.workflow_id, step_no, template.key, send_at, local_label(send_at, contact["time_zone"])),
        )
        return {"step_no": step_no, "send_at": send_at.isoformat(), "template": template.key}

    return saga.db_write(
        f"scheduled.{step_no}",
        write,
        request={"step_no": step_no, "after": after.isoformat() if after is not None else None},
        compensation=Compensation("outreach_sequence.cancel_send", {"step_no": step_no}),
    )


@compensation("outreach_sequence.close_record")
def close_record(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Close the sequence record: an ending already written stays, a sequence a failure left open ends failed.

    Every send still pending is cancelled with it."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE outreach_sends SET status = 'cancelled', cancelled_at = now(), cancel_reason = %s"
            " WHERE workflow_id = %s AND status = 'scheduled'",
            (reason[:500], saga.workflow_id),
        )
        cur.execute(
            "UPDATE outreach_sequences SET status = 'failed', outcome = COALESCE(outcome, 'failed'),"
            " reason = %s, ended_at = now(), updated_at = now() WHERE workflow_id = %s AND status <> ALL(%s)",
            (reason[:2000], saga.workflow_id, list(ENDED)),
        )
        cur.execute("SELECT status FROM outreach_sequences WHERE workflow_id = %s", (saga.workflow_id,))
        row = cur.fetchone()
    return {"sequence_status": row[0] if row else None}


@compensation("outreach_sequence.tell_crm")
def tell_crm(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Tell the CRM the contact's sequence stopped, and why (their status: how it ended).

    An opt-out, an unsubscribe, a complaint or a bounce names the contact's status; anything else is
    ``sequence_stopped``. The consent a stop withdrew was recorded when it happened, not here."""
    from execution_plane.hooks.crm import CrmHook
    from workflows.outreach_sequence.domain import STOP_OUTCOMES

    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT outcome, reason FROM outreach_sequences WHERE workflow_id = %s", (saga.workflow_id,)
        )
        outcome, recorded = cur.fetchone() or (None, None)
    status = outcome if outcome in STOP_OUTCOMES else "sequence_stopped"
    with CrmHook() as hook:
        updated = hook.update_contact(
            args["contact_id"],
            status=status,
            fields={"outreach_status": "stopped", "outreach_reason": (recorded or reason)[:500]},
            idempotency_key=key,
        )
    return {"contact_id": args["contact_id"], "status": updated.get("status")}


@compensation("outreach_sequence.cancel_send")
def cancel_send(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Cancel the planned message if it is still pending (one already sent cannot be called back)."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE outreach_sends SET status = 'cancelled', cancelled_at = now(), cancel_reason = %s"
            " WHERE workflow_id = %s AND step_no = %s AND status = 'scheduled'",
            (reason[:500], saga.workflow_id, args["step_no"]),
        )
        cancelled = bool(cur.rowcount)
        cur.execute(
            "SELECT status FROM outreach_sends WHERE workflow_id = %s AND step_no = %s",
            (saga.workflow_id, args["step_no"]),
        )
        row = cur.fetchone()
    return {"step_no": args["step_no"], "cancelled_now": cancelled, "status": row[0] if row else None}
