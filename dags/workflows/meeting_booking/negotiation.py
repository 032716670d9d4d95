"""The negotiation: the request checked, the meeting recorded, times proposed from the organizer's free
slots, the attendee's answer read (a pick, a counter-proposal, a decline, or nothing in time)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, routed_step, step
from execution_plane.saga.compensations import compensation
from workflows.meeting_booking.common import (
    ENDED,
    address_of,
    deadline,
    meeting_row,
    messages_key,
    round_rows,
    set_status,
)

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)


@step
def check_request(run: Run) -> None:
    """Refuse what the params' schema cannot: an unknown time zone, WhatsApp or SMS without a phone number.
    Nothing is recorded or sent before this passes."""
    from include.domain.quiet_hours import zone

    params = run.params
    try:
        zone(str(params["attendee_time_zone"]))
    except ValueError as exc:
        raise ValueError(f"attendee_time_zone: {exc}") from None
    if params["channel"] != "email" and not params.get("attendee_phone"):
        raise ValueError(f"attendee_phone: required to negotiate on {params['channel']}")


@step
def open_negotiation(run: Run) -> dict[str, Any]:
    """Register the workflow, record the meeting to book, and open the conversation on the channel: the
    attendee's answers come back under the run's key."""
    from execution_plane.hooks.messaging import MessagingHook
    from execution_plane.saga.compensations import Compensation

    params = run.params
    address = address_of(params)
    key = messages_key(run)
    with run.saga as saga:
        saga.register()

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "INSERT INTO meeting_bookings (workflow_id, organizer, organizer_email, attendee_name,"
                " attendee_email, attendee_time_zone, channel, address, language, title, parent_workflow_id,"
                " status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'negotiating')"
                " ON CONFLICT (workflow_id) DO NOTHING",
                (
                    saga.workflow_id,
                    params["organizer"],
                    params["organizer_email"],
                    params["attendee_name"],
                    params["attendee_email"],
                    params["attendee_time_zone"],
                    params["channel"],
                    address,
                    params["attendee_language"],
                    params["title"],
                    params.get("parent_workflow_id"),
                ),
            )
            return {"address": address}

        saga.db_write(
            "meeting",
            write,
            request={"organizer": params["organizer"], "attendee_email": params["attendee_email"]},
            compensation=Compensation("meeting_booking.close_record", {}),
        )
        with MessagingHook(str(params["channel"])) as hook:
            saga.call(
                "conversation",
                side_effect=f"{params['channel']}.open_conversation",
                request={"address": address, "correlation_key": key},
                call=lambda idem: hook.open_conversation(
                    address=address, correlation_key=key, idempotency_key=idem
                ),
            )
    return {"correlation_key": key}


@routed_step(trigger_rule="none_failed_min_one_success")
def propose(run: Run, round_no: int) -> dict[str, Any]:
    """Propose times for round ``round_no`` from the organizer's free slots (after a counter-proposal the
    calendar could not take: the ones nearest to it; never one proposed before); ``next``: ``wait`` (sent,
    answer due by ``respond_by``) or ``ended`` (the organizer has no free time in the horizon)."""
    from execution_plane.hooks.calcom import CalcomHook
    from execution_plane.saga import keys
    from workflows.meeting_booking.domain import choose_options, proposal

    params = run.params
    address = address_of(params)
    template = f"meeting_proposal.{params['attendee_language']}"
    message_id = keys.message_id(run.workflow_id, f"proposal.{round_no}", address, template)
    with run.saga as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            earlier = round_rows(cur, saga.workflow_id)
        before = earlier[-1] if earlier and earlier[-1]["round"] == round_no - 1 else None
        why = "first" if before is None else str(before["outcome"])
        near = None
        if before is not None and before["outcome"] == "counter_unavailable":
            near = datetime.fromisoformat(before["reply"]["slot"])
        exclude = [datetime.fromisoformat(slot) for row in earlier for slot in row["options"]]
        exclude += [row["agreed_slot"] for row in earlier if row["agreed_slot"] is not None]
        with CalcomHook() as hook:
            now = datetime.now(UTC)
            free = hook.free_slots(str(params["organizer"]), now.date(), int(params["horizon_days"]))

        def write(cur: Any) -> dict[str, Any]:
            cur.execute("SELECT now()")
            db_now = cur.fetchone()[0]
            options = choose_options(
                free,
                now=db_now,
                earliest_notice=timedelta(hours=float(params["earliest_notice_hours"])),
                count=int(params["options_per_round"]),
                time_zone=str(params["attendee_time_zone"]),
                exclude=exclude,
                near=near,
            )
            if not options:
                reason = f"no free time in {params['organizer']}'s calendar to propose in round {round_no}"
                set_status(saga, cur, "no_agreement", reason)
                return {"options": [], "reason": reason}
            respond_by = deadline(cur, float(params["response_timeout_hours"]))
            cur.execute(
                "INSERT INTO meeting_rounds (workflow_id, round, options, respond_by, message_id)"
                " VALUES (%s, %s, %s::jsonb, %s, %s) ON CONFLICT (workflow_id, round) DO NOTHING",
                (
                    saga.workflow_id,
                    round_no,
                    json.dumps([slot.isoformat() for slot in options]),
                    respond_by,
                    message_id,
                ),
            )
            return {
                "options": [slot.isoformat() for slot in options],
                "respond_by": respond_by.isoformat(),
                "after": before["reply_received_at"].isoformat()
                if before and before["reply_received_at"]
                else None,
                "why": why,
            }

        proposed = saga.db_write(f"round.{round_no}", write, request={"round": round_no})
        if not proposed["options"]:
            return {"next": "ended", "reason": proposed["reason"]}
        message = proposal(
            [datetime.fromisoformat(slot) for slot in proposed["options"]],
            language=str(params["attendee_language"]),
            attendee_name=str(params["attendee_name"]),
            organizer_name=str(params["organizer_name"]),
            title=str(params["title"]),
            time_zone=str(params["attendee_time_zone"]),
            why=proposed["why"],
        )
        saga.send_message(
            f"proposal.{round_no}",
            channel=str(params["channel"]),
            to=address,
            template=template,
            subject=message.subject,
            body=message.body,
        )
    log.info("%s round %s: proposed %s", run.workflow_id, round_no, proposed["options"])
    return {"next": "wait", **proposed}


@routed_step
def confirm(run: Run, answer: dict[str, Any], round_no: int) -> dict[str, Any]:
    """Read the attendee's answer to round ``round_no``; ``next``: ``agreed`` (a proposed time picked, or a
    counter-proposal the organizer's calendar has free: ``slot``), ``next_round`` (a counter the calendar
    cannot take, or an answer that names no time) or ``ended`` (declined, opted out, no answer in time, or no
    agreement in the last round)."""
    from workflows.meeting_booking.domain import Reading, negotiate, read_answer

    params = run.params
    max_rounds = int(params["max_rounds"])
    with run.saga as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            this = next(row for row in round_rows(cur, saga.workflow_id) if row["round"] == round_no)
        options = [datetime.fromisoformat(slot) for slot in this["options"]]
        event = answer.get("event") if answer.get("status") == "received" else None
        if event is None:
            reading, intent = None, None
        else:
            message = dict((event.get("payload") or {}).get("payload") or {})
            text = str(message.get("text") or "")
            intent = None
            if event["event_type"] != "message.replied":
                reading = Reading("decline")
            else:
                received = datetime.fromisoformat(event["received_at"])
                reading = read_answer(
                    text, options, time_zone=str(params["attendee_time_zone"]), now=received
                )
                # An answer that names a time is read as such: the classifier, trained on whole messages,
                # takes a short "Option 2 please" for anything (seen: an unsubscribe at 0.37).
                if reading.kind not in ("pick", "counter"):
                    intent = _intent(event, text)
                    if intent in ("unsubscribe", "complaint"):
                        reading = Reading("decline")
        reason: str | None
        if reading is None:
            outcome, next_step, slot = "expired", "ended", None
            reason = f"no answer to the times proposed in round {round_no}"
        else:
            free = reading.kind == "counter" and not reading.day_only and _is_free(params, reading.slot)
            decided = negotiate(reading, counter_free=free, round_no=round_no, max_rounds=max_rounds)
            outcome, next_step, slot = decided.outcome, decided.next, decided.slot
            reason = {
                "declined": f"the attendee declined in round {round_no}",
                "no_agreement": f"no time agreed after {max_rounds} round{'s' * (max_rounds > 1)}",
            }.get(outcome)

        def write(cur: Any) -> dict[str, Any]:
            reply = None
            if event is not None:
                reply = {
                    "event_id": event["event_id"],
                    "event_type": event["event_type"],
                    "intent": intent,
                    "kind": reading.kind if reading else None,
                    "option": reading.option if reading else None,
                    "slot": reading.slot.isoformat() if reading and reading.slot else None,
                    "day_only": reading.day_only if reading else False,
                }
            cur.execute(
                "UPDATE meeting_rounds SET reply_event_id = %s, reply_received_at = %s, reply = %s::jsonb,"
                " outcome = %s, agreed_slot = %s WHERE workflow_id = %s AND round = %s",
                (
                    event["event_id"] if event else None,
                    event["received_at"] if event else None,
                    json.dumps(reply) if reply else None,
                    outcome,
                    slot,
                    saga.workflow_id,
                    round_no,
                ),
            )
            if next_step == "agreed":
                cur.execute(
                    "UPDATE meeting_bookings SET status = 'agreed', agreed_slot = %s, updated_at = now()"
                    " WHERE workflow_id = %s",
                    (slot, saga.workflow_id),
                )
            elif next_step == "ended":
                set_status(saga, cur, outcome, reason)
            return {
                "next": next_step,
                "outcome": outcome,
                "slot": slot.isoformat() if slot else None,
                "reason": reason,
            }

        return saga.db_write(
            f"answer.{round_no}",
            write,
            request={"round": round_no, "event_id": event["event_id"] if event else None},
        )


def _intent(event: dict[str, Any], text: str) -> str | None:
    """The answer's intent by the classification service (an unsubscribe or a complaint ends it)."""
    if event["event_type"] != "message.replied" or not text.strip():
        return None
    from execution_plane.services.classification import classify_message_task

    channel = ((event.get("payload") or {}).get("payload") or {}).get("channel")
    known = channel if channel in ("email", "whatsapp", "sms") else "other"
    return str(
        classify_message_task({"text": text, "channel": known, "message_id": event["event_id"]})["intent"]
    )


def _is_free(params: Any, slot: datetime | None) -> bool:
    """Whether the organizer's calendar has exactly this slot free now."""
    if slot is None:
        return False
    from execution_plane.hooks.calcom import CalcomHook

    with CalcomHook() as hook:
        return slot in hook.free_slots(str(params["organizer"]), slot.astimezone(UTC).date(), 1)


@step(trigger_rule="none_failed_min_one_success")
def ended(run: Run) -> None:
    """The negotiation ended without a meeting: declined (or the attendee opted out) and no agreement are
    ``rejected``, no answer in time ``expired``; compensation cancels a booking if one was made."""
    with run.saga as saga, saga.conn() as conn, conn.cursor() as cur:
        row = meeting_row(cur, saga.workflow_id)
    reason = row["reason"] or f"the negotiation ended ({row['status']})"
    run.end_badly("expired" if row["status"] == "expired" else "rejected", reason)


@compensation("meeting_booking.close_record")
def close_record(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Close the meeting record: an ending already written stays; a meeting in progress ends cancelled
    (a booking was made) or failed."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE meeting_bookings SET reason = %s, updated_at = now(),"
            " status = CASE WHEN booking_id IS NULL THEN 'failed' ELSE 'cancelled' END"
            " WHERE workflow_id = %s AND status <> ALL(%s)",
            (reason[:2000], saga.workflow_id, list(ENDED)),
        )
        cur.execute("SELECT status FROM meeting_bookings WHERE workflow_id = %s", (saga.workflow_id,))
        row = cur.fetchone()
    return {"meeting_status": row[0] if row else None}
