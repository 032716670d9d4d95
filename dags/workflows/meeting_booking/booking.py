"""The calendar booking (once, at the organizer's Cal.com) and the invitations; a booking whose meeting does
not go ahead is cancelled by compensation."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, routed_step, step
from execution_plane.saga.compensations import compensation
from workflows.meeting_booking.common import address_of, meeting_row, set_status

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)


@routed_step
def book(run: Run, confirmed: dict[str, Any], round_no: int) -> dict[str, Any]:
    """Book the agreed time in the organizer's calendar, once; ``next``: ``booked``, or ``next_round`` when
    someone took the slot meanwhile (``ended``: no agreement, in the last round)."""
    from execution_plane.hooks.calcom import CalcomHook, SlotTaken
    from execution_plane.saga.compensations import Compensation

    params = run.params
    slot = datetime.fromisoformat(confirmed["slot"])
    with run.saga as saga:
        with CalcomHook() as hook:
            try:
                booking = saga.call(
                    f"booking.{round_no}",
                    side_effect="calcom.create_booking",
                    request={"slot": slot.isoformat(), "organizer": params["organizer"]},
                    call=lambda key: hook.create_booking(
                        username=str(params["organizer"]),
                        slot_start=slot,
                        attendee_email=str(params["attendee_email"]),
                        attendee_name=str(params["attendee_name"]),
                        attendee_time_zone=str(params["attendee_time_zone"]),
                        title=str(params["title"]),
                        idempotency_key=key,
                    ),
                    compensation=lambda result: Compensation(
                        "meeting_booking.cancel_booking", {"booking_id": result["booking_id"]}
                    ),
                )
            except SlotTaken:
                booking = None
        last = round_no >= int(params["max_rounds"])

        def write(cur: Any) -> dict[str, Any]:
            if booking is not None:
                cur.execute(
                    "UPDATE meeting_bookings SET status = 'booked', booking_id = %s, agreed_slot = %s,"
                    " updated_at = now() WHERE workflow_id = %s",
                    (booking["booking_id"], slot, saga.workflow_id),
                )
                return {"next": "booked", "booking_id": booking["booking_id"], "slot": slot.isoformat()}
            cur.execute(
                "UPDATE meeting_rounds SET outcome = 'slot_taken' WHERE workflow_id = %s AND round = %s",
                (saga.workflow_id, round_no),
            )
            if last:
                set_status(
                    saga, cur, "no_agreement", f"the time agreed in round {round_no} was taken meanwhile"
                )
                return {"next": "ended", "slot": slot.isoformat()}
            set_status(saga, cur, "negotiating")
            return {"next": "next_round", "slot": slot.isoformat()}

        decided = saga.db_write(
            f"booked.{round_no}", write, request={"round": round_no, "slot": slot.isoformat()}
        )
    log.info("%s round %s: %s at %s", run.workflow_id, round_no, decided["next"], slot)
    return decided


@step
def invitations(run: Run, booked: dict[str, Any]) -> dict[str, Any]:
    """Invite both: the attendee by email in their language and time zone (and a confirmation on the channel
    they negotiated on), the organizer by email; each invitation's undo tells its reader it is off."""
    from execution_plane.hooks.calcom import CalcomHook
    from execution_plane.saga.compensations import Compensation
    from workflows.meeting_booking.domain import (
        attendee_invitation,
        cancellation_notice,
        confirmation,
        organizer_invitation,
    )

    params = run.params
    language, tz, title = (
        str(params["attendee_language"]),
        str(params["attendee_time_zone"]),
        str(params["title"]),
    )
    with CalcomHook() as hook:
        booking = hook.get_booking(booked["booking_id"])
    slot = datetime.fromisoformat(booking["slot_start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(booking["slot_end"].replace("Z", "+00:00"))
    with run.saga as saga:
        invite = attendee_invitation(
            slot,
            end,
            language=language,
            title=title,
            organizer_name=str(params["organizer_name"]),
            organizer_email=str(params["organizer_email"]),
            time_zone=tz,
            booking_id=booked["booking_id"],
        )
        notice = cancellation_notice(language=language, title=title, slot=slot, time_zone=tz)
        saga.send_message(
            "invitation.attendee",
            channel="email",
            to=str(params["attendee_email"]),
            template=f"meeting_invitation.{language}",
            subject=invite.subject,
            body=invite.body,
            compensation=Compensation(
                "message.notify",
                {
                    "channel": "email",
                    "to": str(params["attendee_email"]),
                    "subject": notice.subject,
                    "body": notice.body,
                    "template": "meeting_cancelled",
                },
            ),
        )
        if params["channel"] != "email":
            confirmed = confirmation(
                slot,
                language=language,
                attendee_name=str(params["attendee_name"]),
                organizer_name=str(params["organizer_name"]),
                title=title,
                time_zone=tz,
                email=str(params["attendee_email"]),
            )
            saga.send_message(
                "confirmation",
                channel=str(params["channel"]),
                to=address_of(params),
                template=f"meeting_confirmation.{language}",
                body=confirmed.body,
            )
        organizer = organizer_invitation(
            slot,
            end,
            title=title,
            attendee_name=str(params["attendee_name"]),
            attendee_email=str(params["attendee_email"]),
            booking_id=booked["booking_id"],
        )
        organizer_notice = cancellation_notice(language="en", title=title, slot=slot, time_zone="UTC")
        saga.send_message(
            "invitation.organizer",
            channel="email",
            to=str(params["organizer_email"]),
            template="meeting_invitation.organizer",
            subject=organizer.subject,
            body=organizer.body,
            compensation=Compensation(
                "message.notify",
                {
                    "channel": "email",
                    "to": str(params["organizer_email"]),
                    "subject": organizer_notice.subject,
                    "body": organizer_notice.body,
                    "template": "meeting_cancelled",
                },
            ),
        )

        def write(cur: Any) -> dict[str, Any]:
            set_status(saga, cur, "invited")
            return {"booking_id": booked["booking_id"], "slot": slot.isoformat()}

        return saga.db_write("invited", write, request={"booking_id": booked["booking_id"]})


@compensation("meeting_booking.cancel_booking")
def cancel_booking(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Cancel the calendar booking of a meeting that does not go ahead (the organizer's slot is free again).

    A booking cancelled before, at Cal.com or by an earlier run of this undo, counts as done."""
    from execution_plane.hooks.calcom import CalcomHook

    with CalcomHook() as hook:
        cancelled = hook.cancel_booking(args["booking_id"], reason=reason, idempotency_key=key)
    with saga.conn() as conn, conn.cursor() as cur:
        row = meeting_row(cur, saga.workflow_id)
    return {"booking_id": args["booking_id"], "status": cancelled.get("status"), "meeting": row["status"]}
