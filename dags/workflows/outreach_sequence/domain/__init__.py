"""Multi-channel outreach sequence: the contact and their channels, the templates, personalisation's prompt
and check, and what the recipient's acts mean. Pure: no Airflow, no toolkit, no I/O. When a message may go
out (send window, weekend by country) is shared with every workflow that writes to people:
``include.domain.quiet_hours``.

API:
    Contact(contact_id, first_name, ..., country, time_zone, language, preferred_channel, last_message,
            consent, owner_name, owner_email, owner_calendar).address(channel) / .full_name
    channel_plan(contact, allowed) -> channels in order; consented(contact, plan) -> the consented ones
    choose_dialect(country, detected) -> gulf | egyptian | levantine | maghrebi | iraqi | msa
    CAMPAIGNS; template_for(campaign, step_no, max_messages, language) -> Template(key, language, subject,
            body); render(template, contact) -> Message; with_footer(body, language, channel) -> str;
            language_of(contact) -> en | ar
    prompt(contact, draft, language=, dialect=, channel=) -> Prompt(system, user)
    accept_rewrite(rewrite, draft, language=, channel=) -> (text, llm | template)
    decide(event_type, channel, intent) -> Decision(next: handover | meeting | stop, outcome, reason)
    crm_change_for_stop(outcome, channel) -> CrmChange(status, fields); STOP_OUTCOMES
    handover_message(contact, reply, messages_sent), meeting_not_booked_message(contact, outcome, reason)
"""

from __future__ import annotations

from workflows.outreach_sequence.domain.contact import (
    CHANNELS,
    DIALECT_BY_COUNTRY,
    Contact,
    channel_plan,
    choose_dialect,
    consented,
)
from workflows.outreach_sequence.domain.personalise import CHANNEL_LIMITS, Prompt, accept_rewrite, prompt
from workflows.outreach_sequence.domain.replies import (
    STOP_OUTCOMES,
    CrmChange,
    Decision,
    crm_change_for_stop,
    decide,
    handover_message,
    meeting_not_booked_message,
)
from workflows.outreach_sequence.domain.templates import (
    CAMPAIGNS,
    Template,
    language_of,
    render,
    role_for,
    template_for,
    with_footer,
)

__all__ = [
    "CAMPAIGNS",
    "CHANNELS",
    "CHANNEL_LIMITS",
    "DIALECT_BY_COUNTRY",
    "STOP_OUTCOMES",
    "Contact",
    "CrmChange",
    "Decision",
    "Prompt",
    "Template",
    "accept_rewrite",
    "channel_plan",
    "choose_dialect",
    "consented",
    "crm_change_for_stop",
    "decide",
    "handover_message",
    "language_of",
    "meeting_not_booked_message",
    "prompt",
    "render",
    "role_for",
    "template_for",
    "with_footer",
]
