"""A reply asking for a meeting: meeting_booking runs as a child (the owner's calendar, the same channel),
the sequence waits for its outcome holding nothing, then the CRM (and, when no meeting was booked, the owner)
is told."""

from __future__ import annotations

from typing import Any

from execution_plane.durable import Run, child_outcome, start_child, step
from workflows.outreach_sequence.common import (
    MEETING_DAG,
    MEETING_STAGE,
    contact_of,
    end_sequence,
    enrolment,
    update_contact,
)


@step
def start_meeting(run: Run, decided: dict[str, Any]) -> dict[str, Any]:
    """Start meeting_booking once, as this sequence's child: the contact's owner organises, the negotiation
    happens on the channel the contact replied on, in their language and time zone."""
    from workflows.outreach_sequence.domain.templates import SENDER

    params = run.params
    enrolled = enrolment(run)
    contact = contact_of(enrolled)
    channel = decided["channel"] if decided["channel"] in ("email", "whatsapp", "sms") else "email"
    conf = {
        "organizer": contact.owner_calendar,
        "organizer_email": contact.owner_email,
        "organizer_name": contact.owner_name or SENDER,
        "attendee_name": contact.full_name,
        "attendee_email": contact.email,
        "attendee_phone": (contact.address(channel) or "") if channel != "email" else "",
        "attendee_time_zone": contact.time_zone,
        "attendee_language": enrolled["language"],
        "channel": channel,
        "title": f"{SENDER} x {contact.company or contact.full_name}",
        "response_timeout_hours": float(params["meeting_response_timeout_hours"]),
    }
    with run.saga as saga:
        started = start_child(
            run, MEETING_STAGE, MEETING_DAG, conf, wait_hours=float(params["meeting_timeout_hours"])
        )

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE outreach_sequences SET meeting_workflow_id = %s, updated_at = now()"
                " WHERE workflow_id = %s",
                (started["workflow_id"], saga.workflow_id),
            )
            return {"meeting_workflow_id": started["workflow_id"]}

        saga.db_write("meeting.started", write, request={"child": started["workflow_id"]})
    return started


@step
def meeting_outcome(run: Run, outcome: dict[str, Any], started: dict[str, Any]) -> dict[str, Any]:
    """Booked: the CRM holds the meeting. Not booked (declined, expired, failed, or still negotiating when the
    wait ran out): the owner is told to follow up, the CRM holds the request."""
    from workflows.outreach_sequence.domain import meeting_not_booked_message

    ended = child_outcome(outcome)
    reason = ((outcome.get("event") or {}).get("payload") or {}).get("reason")
    with run.saga as saga:
        contact = contact_of(enrolment(run))
        if ended == "completed":
            update_contact(
                saga,
                "crm.meeting",
                contact.contact_id,
                "meeting_booked",
                {"outreach_status": "meeting_booked", "meeting_workflow_id": started["workflow_id"]},
            )
            return end_sequence(
                saga, "meeting", "meeting_booked", f"meeting booked ({started['workflow_id']})"
            )
        update_contact(
            saga,
            "crm.meeting",
            contact.contact_id,
            "meeting_requested",
            {"outreach_status": "meeting_not_booked", "meeting_workflow_id": started["workflow_id"]},
        )
        if contact.owner_email:
            message = meeting_not_booked_message(contact, ended, reason)
            saga.send_message(
                "owner.meeting_not_booked",
                channel="email",
                to=contact.owner_email,
                template="outreach_meeting_not_booked",
                subject=message.subject,
                body=message.body,
            )
        return end_sequence(saga, "meeting", f"meeting_{ended}", f"the meeting was not booked ({ended})")
