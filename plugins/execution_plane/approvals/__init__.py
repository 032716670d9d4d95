"""Approvals beyond the gate itself: the messages about them (``notifier``), when reminders and escalation
are due (``policy``, pure) and the scan that sends them (``reminders``, run by
``dags/approval_reminders.py``)."""
