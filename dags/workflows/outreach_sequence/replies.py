"""How the sequence ends: the recipient's act read (a reply classified, its dialect detected), then handed to
the owner, stopped for good, or ended without a reply; and the ending when no channel can reach them."""

from __future__ import annotations

import json
import logging
from typing import Any

from execution_plane.durable import Run, routed_step, step
from workflows.outreach_sequence.common import (
    contact_of,
    end_sequence,
    enrolment,
    sequence_row,
    update_contact,
)

log = logging.getLogger(__name__)


@routed_step(trigger_rule="one_success")
def conclude(run: Run) -> dict[str, Any]:
    """How the sequence ends; ``next``:

    - the recipient acted (the event the wait ended with, read here): ``meeting`` (a reply asking for one),
      ``stop`` (an unsubscribe or a complaint, an opt-out, a permanent bounce) or ``handover`` (any other
      reply: the owner reads it); every send still pending is cancelled;
    - ``undeliverable``: no channel reaches the contact (none consented, or every one refused);
    - ``no_reply``: every message went out and the reply window passed."""
    from workflows.outreach_sequence.domain import decide

    with run.saga as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            row = sequence_row(cur, saga.workflow_id)
        if row["reply"] is None:
            undeliverable = row["outcome"] in ("no_consent", "channels_failed")
            return {"next": "undeliverable" if undeliverable else "no_reply", "outcome": row["outcome"]}
        event = row["reply"]["event"]
        message = dict((event.get("payload") or {}).get("payload") or {})
        channel = str(message.get("channel") or "unknown")
        text = message.get("text") or ""
        read = (
            _read_reply(event["event_id"], channel, text) if event["event_type"] == "message.replied" else {}
        )
        decision = decide(event["event_type"], channel, read.get("intent"))

        def write(cur: Any) -> dict[str, Any]:
            reply_record = {
                "event": event,
                "event_type": event["event_type"],
                "channel": channel,
                "text": text,
                **read,
            }
            cur.execute(
                "UPDATE outreach_sequences SET reply = %s::jsonb, outcome = %s, reason = %s,"
                " updated_at = now() WHERE workflow_id = %s",
                (
                    json.dumps(reply_record, ensure_ascii=False),
                    decision.outcome,
                    decision.reason,
                    saga.workflow_id,
                ),
            )
            cur.execute(
                "UPDATE outreach_sends SET status = 'cancelled', cancelled_at = now(), cancel_reason = %s"
                " WHERE workflow_id = %s AND status = 'scheduled'",
                (decision.reason[:500], saga.workflow_id),
            )
            return {
                "next": decision.next,
                "outcome": decision.outcome,
                "reason": decision.reason,
                "channel": channel,
                "intent": read.get("intent"),
                "pending_cancelled": cur.rowcount,
            }

        decided = saga.db_write("reply", write, request={"event_id": event["event_id"]})
    log.info("%s: %s -> %s (%s)", run.workflow_id, event["event_type"], decided["next"], decided["reason"])
    return decided


def _read_reply(event_id: str, channel: str, text: str) -> dict[str, Any]:
    """The reply's intent (the classification service) and, written in Arabic, its dialect."""
    from execution_plane.services.classification import classify_message_task
    from execution_plane.services.dialect import detect_dialect_task

    if not text.strip():
        return {"intent": None}
    known = channel if channel in ("email", "whatsapp", "sms") else "other"
    classified = classify_message_task({"text": text, "channel": known, "message_id": event_id})
    found: dict[str, Any] = {
        "intent": classified["intent"],
        "confidence": classified["confidence"],
        "needs_review": classified["needs_review"],
        "language": classified["language"],
    }
    if classified["language"] in ("ar", "mixed"):
        found["dialect"] = detect_dialect_task({"text": text})["dialect"]
    return found


@step
def hand_over(run: Run, decided: dict[str, Any]) -> dict[str, Any]:
    """The owner answers the reply themselves: the CRM holds it, the owner is told by email, once."""
    from workflows.outreach_sequence.domain import handover_message

    with run.saga as saga:
        contact = contact_of(enrolment(run))
        with saga.conn() as conn, conn.cursor() as cur:
            row = sequence_row(cur, saga.workflow_id)
        update_contact(
            saga,
            "crm.replied",
            contact.contact_id,
            "replied",
            {"outreach_status": "replied", "last_reply_intent": decided.get("intent")},
        )
        message = handover_message(contact, row["reply"], int(row["messages_sent"]))
        if contact.owner_email:
            saga.send_message(
                "owner.handover",
                channel="email",
                to=contact.owner_email,
                template="outreach_handover",
                subject=message.subject,
                body=message.body,
            )
        return end_sequence(saga, "handed_over", "handed_over", decided["reason"])


@step
def stopped(run: Run, decided: dict[str, Any]) -> None:
    """The recipient does not want these messages (or cannot get them): the CRM records it (consent withdrawn,
    the address marked), the sequence ends rejected and its compensation tells the CRM it stopped."""
    from workflows.outreach_sequence.domain import crm_change_for_stop

    with run.saga as saga:
        contact = contact_of(enrolment(run))
        change = crm_change_for_stop(decided["outcome"], decided["channel"])
        update_contact(saga, "crm.stopped", contact.contact_id, change.status, change.fields)
        end_sequence(saga, "stopped", decided["outcome"], decided["reason"])
    run.end_badly("rejected", decided["reason"])


@step
def no_reply(run: Run) -> dict[str, Any]:
    """Every message went out and the reply window passed: the CRM is told the sequence completed."""

    with run.saga as saga:
        contact = contact_of(enrolment(run))
        with saga.conn() as conn, conn.cursor() as cur:
            sent = int(sequence_row(cur, saga.workflow_id)["messages_sent"])
        update_contact(
            saga, "crm.no_reply", contact.contact_id, "sequence_completed", {"outreach_status": "no_reply"}
        )
        return end_sequence(saga, "no_reply", "no_reply", f"no reply after {sent} message{'s' * (sent != 1)}")


@step
def undeliverable(run: Run) -> None:
    """No channel reaches the contact: none they consent to (rejected), or every channel refused (failed)."""
    with run.saga as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            row = sequence_row(cur, saga.workflow_id)
        outcome = row["outcome"] or "undeliverable"
        reason = row["reason"] or "no channel reaches the contact"
        end_sequence(saga, "undeliverable", outcome, reason)
    run.end_badly("rejected" if outcome == "no_consent" else "failed", reason)
