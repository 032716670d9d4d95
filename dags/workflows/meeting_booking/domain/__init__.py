"""Meeting booking: which free slots to propose, what the attendee's answer means, and the messages. Pure: no
Airflow, no toolkit, no I/O.

API:
    choose_options(free, now=, earliest_notice=, count=, time_zone=, exclude=, near=) -> list[datetime]
    read_answer(text, options, time_zone=, now=) -> Reading(kind: pick | counter | decline | unclear,
            option, slot, day_only)
    negotiate(reading, counter_free=, round_no=, max_rounds=) -> Step(outcome, next: agreed | next_round |
            ended, slot, near)
    proposal(options, language=, attendee_name=, organizer_name=, title=, time_zone=, why=) -> Message
    confirmation(...), attendee_invitation(...), organizer_invitation(...),
    cancellation_notice(...) -> Message
    when(slot, time_zone, language) -> str
"""

from __future__ import annotations

from workflows.meeting_booking.domain.messages import (
    attendee_invitation,
    cancellation_notice,
    confirmation,
    organizer_invitation,
    proposal,
    when,
)
from workflows.meeting_booking.domain.negotiation import Reading, Step, negotiate, normalise, read_answer
from workflows.meeting_booking.domain.slots import choose_options, is_civil

__all__ = [
    "Reading",
    "Step",
    "attendee_invitation",
    "cancellation_notice",
    "choose_options",
    "confirmation",
    "is_civil",
    "negotiate",
    "normalise",
    "organizer_invitation",
    "proposal",
    "read_answer",
    "when",
]
