"""What the recipient did, and where the sequence goes from there.

Every act of the recipient stops the sequence at once. A reply is classified (the classification service):
a meeting request goes to meeting booking, an unsubscribe or complaint stops the sequence for good, any other
reply (interest, a question, an objection, "not now", an out-of-office note, a referral) is handed to the
contact's owner, who reads it: a person, not the sequence, decides what a reply means when it is not one of
those. An opt-out, a permanent bounce or a spam complaint stops it without a reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from include.domain.common import Message
from workflows.outreach_sequence.domain.contact import CHANNELS, Contact

Next = Literal["handover", "meeting", "stop"]
#: The sequence's endings, as its record (and the CRM contact's ``outreach_status``) names them.
STOP_OUTCOMES = ("opted_out", "unsubscribed", "complained", "bounced")
_EVENT_OUTCOMES = {
    "message.opted_out": "opted_out",
    "message.complained": "complained",
    "message.bounced": "bounced",
}


@dataclass(frozen=True)
class Decision:
    next: Next
    outcome: str
    """``handed_over``, ``meeting_requested`` or one of ``STOP_OUTCOMES``."""
    reason: str


def decide(event_type: str, channel: str, intent: str | None) -> Decision:
    """The next step for the recipient's act (``intent``: the reply's classified intent, None for others)."""
    if event_type in _EVENT_OUTCOMES:
        outcome = _EVENT_OUTCOMES[event_type]
        why = {
            "opted_out": f"the recipient opted out on {channel}",
            "complained": f"the recipient reported the {channel} message as spam",
            "bounced": f"the {channel} address bounced permanently",
        }[outcome]
        return Decision("stop", outcome, why)
    if event_type != "message.replied":
        raise ValueError(f"not an act of the recipient: {event_type!r}")
    if intent == "unsubscribe":
        return Decision("stop", "unsubscribed", f"the recipient asked on {channel} not to be contacted")
    if intent == "complaint":
        return Decision("stop", "complained", f"the recipient complained on {channel}")
    if intent == "meeting_request":
        return Decision("meeting", "meeting_requested", f"the recipient asked for a meeting on {channel}")
    return Decision("handover", "handed_over", f"the recipient replied on {channel} ({intent or 'unread'})")


@dataclass(frozen=True)
class CrmChange:
    """What the CRM must hold about the contact after a stop (consent is changed only for channels named)."""

    status: str
    fields: dict[str, Any] = field(default_factory=dict)


def crm_change_for_stop(outcome: str, channel: str) -> CrmChange:
    """An opt-out withdraws that channel's consent; an unsubscribe reply every channel's; a complaint every
    channel's and marks the contact do-not-contact; a bounce marks the address invalid (consent stands)."""
    if outcome == "opted_out":
        return CrmChange("opted_out", {"consent": {channel: False}})
    if outcome == "unsubscribed":
        return CrmChange("unsubscribed", {"consent": dict.fromkeys(CHANNELS, False)})
    if outcome == "complained":
        return CrmChange("complained", {"consent": dict.fromkeys(CHANNELS, False), "do_not_contact": True})
    if outcome == "bounced":
        return CrmChange("bounced", {f"{channel}_status": "bounced"})
    raise ValueError(f"not a stop: {outcome!r}")


def handover_message(contact: Contact, reply: dict[str, Any], messages_sent: int) -> Message:
    """The owner is told of a reply the sequence hands to them (in English: the sales team's language)."""
    intent = reply.get("intent") or "unclassified"
    confidence = reply.get("confidence")
    seen = f"{intent} ({confidence:.0%} sure)" if isinstance(confidence, int | float) else intent
    lines = [
        f"{contact.full_name} ({contact.company}, {contact.country}) replied on {reply['channel']} after "
        f"{messages_sent} message{'s' * (messages_sent != 1)} of the sequence; the sequence has stopped.",
        "",
        f"Their reply: {reply.get('text') or '(no text)'}",
        f"Read as: {seen}" + (f"; dialect: {reply['dialect']}" if reply.get("dialect") else ""),
        "",
        "Please answer them yourself. Contact id: " + contact.contact_id,
    ]
    return Message(
        subject=f"Reply from {contact.full_name} ({contact.company}): {intent}", body="\n".join(lines)
    )


def meeting_not_booked_message(contact: Contact, outcome: str, reason: str | None) -> Message:
    """The owner is told a meeting the contact asked for was not booked, so they follow up."""
    return Message(
        subject=f"Meeting with {contact.full_name} ({contact.company}) not booked",
        body=(
            f"{contact.full_name} asked for a meeting, and the booking did not complete ({outcome}"
            + (f": {reason}" if reason else "")
            + f"). Please follow up with them yourself. Contact id: {contact.contact_id}"
        ),
    )
