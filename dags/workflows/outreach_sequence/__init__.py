"""outreach_sequence: a multi-channel outreach sequence, from enrolment through each message to the reply.

``dag.py`` wires the story, by concern: ``enrolment`` (the request checked, the contact read, the sequence
recorded, the CRM told, message 1 planned), ``sending`` (a message when it is due: consent, personalisation,
channel fallback, the next one planned), ``replies`` (the recipient's act read and the endings: handed over,
stopped, no reply, undeliverable), ``meeting`` (meeting_booking as a child run), ``common`` (names and small
reads), ``domain`` (contact and channels, templates, personalisation's prompt and check, what a reply means:
no Airflow).
"""

from __future__ import annotations
