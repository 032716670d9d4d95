"""
### Meeting booking (long-lived durable, 2-10 minutes of work; the attendee's answers may take days)

**Propose times** from the organizer's Cal.com availability (`organizer`, a Cal.com username: their free
slots over the next `horizon_days`, none sooner than `earliest_notice_hours`, at civil hours in the
attendee's time zone first, spread over several days; `options_per_round` of them), sent to the attendee on
`channel` (email, WhatsApp or SMS) in their language (`attendee_language`: English or Arabic) and time zone
-> **negotiate**: the attendee's answer comes back as the messaging provider's signed webhook
(`/webhooks/events/messaging`), waited for holding nothing until `response_timeout_hours` pass. The answer
is read (English or Arabic; the classification service tells an unsubscribe or a complaint): **a pick**
("2", "option 2", "الخيار ٢", "the second"), **a counter-proposal** ("Thursday at 3pm", "الخميس الساعة 3
مساءً"): a time free in the organizer's calendar is agreed, any other gets new proposals near it in the next
round, **a decline** ("not interested", an opt-out), or **nothing in time**. An answer that names no time
gets the times proposed again; up to `max_rounds` rounds (the graph holds 3) -> **confirm**: the agreed
time recorded -> **calendar booking** at Cal.com, **once** (its Idempotency-Key: a retry replays the
booking; a slot someone took meanwhile opens the next round) -> **invitations**: the attendee's by email (in
their language and time zone), a confirmation on the channel they negotiated on, the organizer's by email.

**Bad endings**: declined or no agreement after the last round: `rejected`; no answer in time: `expired`;
a step failing after its retries: `failed`. **Compensation** cancels a booking made for a meeting that does
not go ahead (a failure after booking, the parent's compensation: an outreach sequence that started this run
as its child) and tells whoever was invited that the meeting is off; the record is closed.

**Choices made here, where the spec is silent**: the organizer's calendar decides (a counter-proposal is
agreed only when that exact slot is free); a day without a time ("Thursday works") is a counter-proposal
around that day's middle; "not now" is not read as a decline (the answer names no time: proposed again);
the attendee's own weekend is not known to Cal.com and is not guessed.

**Drive it**: trigger form, `POST /api/v2/dags/meeting_booking/dagRuns`, the CRM's signed webhook
(`workflow: meeting_booking`), or an outreach sequence whose contact asked for a meeting; the attendee
answers with `POST /_sandbox/messages/{provider_message_id}/reply` `{"text": "2"}` (sandbox).
"""

from __future__ import annotations

from airflow.sdk import Param, TaskGroup

from execution_plane.durable import complete, durable_workflow, routes, timeout_hours_param, wait_for_event
from workflows.meeting_booking import booking, negotiation
from workflows.meeting_booking.common import CHECK_TASK, MAX_ROUNDS, RECIPIENT_EVENTS

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
CALCOM_USERNAME = r"^[a-z0-9][a-z0-9._-]{0,63}$"
TIME_ZONE = r"^(?:UTC|[A-Z][A-Za-z_]+(?:/[A-Za-z0-9_+-]+)+)$"
PHONE = r"^$|^\+(?:[1-9][0-9]{6,14})$"
MESSAGES_KEY = "{{ ep.correlation_key(ep.workflow_id(dag.dag_id, params.request_id), 'messages') }}"


@durable_workflow(
    doc_md=__doc__,
    tags=["sales", "meetings"],
    crm_start=True,
    request_id_description="Unique id of this meeting request (e.g. the CRM activity's id)",
    fails_before_effects=[CHECK_TASK],
    params={
        "organizer": Param(
            type="string", pattern=CALCOM_USERNAME, description="Cal.com username of the host"
        ),
        "organizer_email": Param(type="string", pattern=EMAIL, maxLength=254, description="The host's email"),
        "organizer_name": Param("Execution Plane", type="string", minLength=1, maxLength=200),
        "attendee_name": Param(type="string", minLength=1, maxLength=200),
        "attendee_email": Param(
            type="string", pattern=EMAIL, maxLength=254, description="Gets the invitation"
        ),
        "attendee_phone": Param(
            "", type="string", pattern=PHONE, description="E.164; needed for WhatsApp and SMS (none: empty)"
        ),
        "attendee_time_zone": Param(
            "UTC", type="string", pattern=TIME_ZONE, description="IANA time zone the times are shown in"
        ),
        "attendee_language": Param("en", type="string", enum=["en", "ar"]),
        "channel": Param(
            "email", type="string", enum=["email", "whatsapp", "sms"], description="Where to agree"
        ),
        "title": Param("Introduction call", type="string", minLength=1, maxLength=200),
        "options_per_round": Param(3, type="integer", minimum=1, maximum=5),
        "max_rounds": Param(MAX_ROUNDS, type="integer", minimum=1, maximum=MAX_ROUNDS),
        "horizon_days": Param(10, type="integer", minimum=1, maximum=31, description="Proposals within this"),
        "earliest_notice_hours": Param(
            12, type="number", minimum=0, maximum=24 * 7, description="No proposal sooner than this"
        ),
        "response_timeout_hours": timeout_hours_param(
            48, max_days=14, description="Each round of proposed times is answered by then, or it expires"
        ),
    },
)
def meeting_booking() -> None:
    checked = negotiation.check_request()
    opened = negotiation.open_negotiation()
    checked >> opened
    invited = []
    previous = None
    for round_no in range(1, MAX_ROUNDS + 1):
        with TaskGroup(group_id=f"round_{round_no}", tooltip=f"Round {round_no}: propose, answer, book"):
            proposed = negotiation.propose.override(task_id="propose")(round_no)
            answer = wait_for_event(
                "answer",
                correlation_key=MESSAGES_KEY,
                event_types=RECIPIENT_EVENTS,
                timeout_at=proposed["respond_by"],
                after_received_at=proposed["after"],
            )
            confirmed = negotiation.confirm.override(task_id="confirm")(answer.output, round_no)
            booked = booking.book.override(task_id="book")(confirmed, round_no)
            invited.append(booking.invitations.override(task_id="invitations")(booked))
            # Each round ends on its own: a round that goes on must not count as having ended the negotiation.
            ended = negotiation.ended.override(task_id="ended")()
            routes(proposed, wait=answer, ended=ended)
            routes(confirmed, agreed=booked, ended=ended)
            routes(booked, booked=invited[-1], ended=ended)
        if previous is None:
            opened >> proposed
        else:
            # A counter-proposal the calendar cannot take, an unclear answer, or a slot taken meanwhile.
            routes(previous[0], next_round=proposed)
            routes(previous[1], next_round=proposed)
        previous = (confirmed, booked)
    invited >> complete(trigger_rule="one_success")


meeting_booking()
