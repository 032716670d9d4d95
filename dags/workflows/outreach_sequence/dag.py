"""
### Multi-channel outreach sequence (long-lived durable, hours to days)

**Enrolment**: the CRM contact (`contact_id`) is read: the channels they can be reached on (their preferred
one first, then `channels` in order; only those with an address), the language to write in (Arabic for
Arabic speakers, else English) and, for Arabic, the dialect (what the contact wrote to us, read by the
dialect service; else their country's) -> the sequence recorded, the CRM told (`in_sequence`) -> message 1
planned for the first moment the contact's **send window** allows (`send_window_start`-`send_window_end` in
their time zone, never on their country's weekend: Friday-Saturday in Saudi Arabia, Egypt, Jordan, Iraq...,
Saturday-Sunday in the UAE and by default; `include.domain.quiet_hours`).

**Each message** (`message_<n>`, up to `max_messages` of the graph's 5): **wait** until it is due, holding
nothing (a deferred wait on the recipient's acts whose deadline is the planned moment: it ends at that moment,
or at once when the recipient acts) -> **due**: consent read from the CRM before every send (a channel whose
consent was withdrawn is skipped; none left: the sequence ends `rejected`), the **template chosen** for the
campaign, its place in the sequence and the language, **personalised** by the LLM in the recipient's language
and dialect (checked: length for the channel, script, no placeholders; a rewrite that fails, or a model that
cannot be reached, leaves the template's text), the opt-out line added, **sent** once (`outbound_messages`)
on the first channel that takes it (**channel fallback**: a channel that refuses is recorded and the next
one tried; a send whose outcome is unknown is retried on the same channel, never sent twice), the next
message planned `follow_up_after_hours` later at the next allowed moment. After the last message the next
wait is the **reply window** (`reply_window_hours`): when it runs out the sequence ends without a reply
(completed, CRM `sequence_completed`).

**It stops at once** when the recipient acts on any message (the messaging provider's signed webhook,
`/webhooks/events/messaging`, under the run's conversation key): a **reply** is classified (the
classification service): a **meeting request** starts **`meeting_booking` as a child run** (the owner's
Cal.com calendar, the same channel, the contact's language and time zone) and the sequence waits for its
outcome holding nothing (booked: CRM `meeting_booked`; not booked: the owner is told to follow up); an
**unsubscribe** or a **complaint** stops it for good; any other reply is **handed over to the owner**
(CRM `replied`, the owner emailed the reply, its intent and dialect). An **opt-out**, a **permanent bounce**
or a **spam complaint** stops it too (a temporary bounce does not). Every pending send is cancelled.

**Stopped** (unsubscribe, opt-out, complaint, bounce: `rejected`), **undeliverable** (no consent:
`rejected`; every channel refused: `failed`) or failed: the CRM records the stop as it happens (consent
withdrawn for the channel, every channel for an unsubscribe or a complaint, which also marks the contact
do-not-contact; a bounced address marked), and **compensation** cancels the pending sends and tells the CRM
the sequence stopped and why.

**Choices made here, where the spec is silent**: every reply stops the sequence, an out-of-office note
included (the owner decides when to write again: an automatic follow-up after a reply is what people
complain about); a reply that is neither a meeting request nor a stop goes to a person, so a misread reply
costs a human look, never a wrong automatic answer; the wait before a message is one wait on the recipient's
acts with the message's moment as its deadline (a date wait alone would not end at a reply); a message that
comes due in the second a reply arrives is held back (the inbox is read just before sending); a run resumed
outside the send window (a stack that was down) waits for the window again instead of sending.

**Drive it**: start with the trigger form, `POST /api/v2/dags/outreach_sequence/dagRuns` or the CRM's signed
webhook (`workflow: outreach_sequence`); the recipient acts with
`POST /_sandbox/messages/{provider_message_id}/reply|opt_out|bounce|complain` (sandbox).
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Param, TaskGroup

from execution_plane.durable import (
    complete,
    durable_workflow,
    id_param,
    routes,
    timeout_hours_param,
    wait_for_child,
    wait_for_event,
)
from workflows.outreach_sequence import enrolment, meeting, replies, sending
from workflows.outreach_sequence.common import CHECK_TASK, MAX_MESSAGES, RECIPIENT_EVENTS

CAMPAIGNS = ("partnership_intro", "product_demo")  # domain.CAMPAIGNS
CHANNELS = ("whatsapp", "email", "sms")  # domain.CHANNELS
HHMM = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$"
MESSAGES_KEY = "{{ ep.correlation_key(ep.workflow_id(dag.dag_id, params.request_id), 'messages') }}"


@durable_workflow(
    doc_md=__doc__,
    tags=["sales", "outreach"],
    # The CRM enrols a contact in a sequence (the webhook validates its payload against the params).
    crm_start=True,
    request_id_description="Unique id of this enrolment (e.g. the CRM's sequence enrolment id)",
    fails_before_effects=[CHECK_TASK],
    params={
        "contact_id": id_param("CRM contact id of the person to write to"),
        "campaign": Param(
            "partnership_intro", type="string", enum=list(CAMPAIGNS), description="The templates to use"
        ),
        "channels": Param(
            list(CHANNELS),
            type="array",
            items={"type": "string", "enum": list(CHANNELS)},
            minItems=1,
            maxItems=len(CHANNELS),
            uniqueItems=True,
            description="Channels the sequence may use, in fallback order (the contact's preferred first)",
        ),
        "max_messages": Param(
            3, type="integer", minimum=1, maximum=MAX_MESSAGES, description="Messages in the sequence"
        ),
        "follow_up_after_hours": timeout_hours_param(
            72, max_days=14, description="A follow-up goes this long after the message before it"
        ),
        "reply_window_hours": timeout_hours_param(
            120, description="After the last message, how long a reply is waited for"
        ),
        "send_window_start": Param(
            "09:00", type="string", pattern=HHMM, description="Messages go out from this local time"
        ),
        "send_window_end": Param(
            "18:00",
            type="string",
            pattern=HHMM + r"|^24:00$",
            description="... until this local time (exclusive), on working days of the contact's country",
        ),
        "meeting_response_timeout_hours": timeout_hours_param(
            48, max_days=14, description="A meeting request: each round of proposed times waits this long"
        ),
        "meeting_timeout_hours": timeout_hours_param(
            168, description="A meeting request: how long the sequence waits for the booking's outcome"
        ),
    },
)
def outreach_sequence() -> None:
    checked = enrolment.check_request()
    enrolled = enrolment.enrol()
    checked >> enrolled
    # Each way in which a step can end the sequence leads to a marker of its own, then to the one step that
    # reads how it ended: a step that goes on to the next message must not count as having ended it.
    ended = [EmptyOperator(task_id="not_enrolled")]
    routes(enrolled, ended=ended[0])

    # Message n is due when its wait ends; the group after the last message is the reply window.
    previous = enrolled
    for step_no in range(1, MAX_MESSAGES + 2):
        with TaskGroup(group_id=f"message_{step_no}", tooltip=f"Message {step_no}: wait for it, then send"):
            waited = wait_for_event(
                "wait",
                correlation_key=MESSAGES_KEY,
                event_types=RECIPIENT_EVENTS,
                timeout_at=previous["send_at"],
            )
            due = sending.due.override(task_id="due")(waited.output, step_no)
            ended.append(EmptyOperator(task_id="ended"))
            routes(due, ended=ended[-1])
        routes(previous, **{"scheduled" if step_no == 1 else "next": waited})
        previous = due

    concluded = replies.conclude()
    ended >> concluded
    handed = replies.hand_over(concluded)
    started = meeting.start_meeting(concluded)
    finished = replies.no_reply()
    routes(
        concluded,
        handover=handed,
        meeting=started,
        stop=replies.stopped(concluded),
        no_reply=finished,
        undeliverable=replies.undeliverable(),
    )
    booked = wait_for_child("meeting_wait", started=started, timeout_at=started["wait_until"])
    started >> booked
    outcome = meeting.meeting_outcome(booked.output, started)
    [handed, outcome, finished] >> complete(trigger_rule="one_success")


outreach_sequence()
