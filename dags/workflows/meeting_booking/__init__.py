"""meeting_booking: propose times from the organizer's Cal.com availability, negotiate with the attendee by
message, book the agreed time once, invite both.

``dag.py`` wires the story, by concern: ``negotiation`` (the request checked, the meeting recorded, times
proposed, each answer read, the bad endings), ``booking`` (the calendar booking once, the invitations, the
booking's cancellation as its undo), ``common`` (names and small reads), ``domain`` (which slots to propose,
what an answer means, the messages: no Airflow).
"""

from __future__ import annotations
