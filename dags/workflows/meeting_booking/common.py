"""What every part of meeting_booking shares: its names, the shape of its graph and a few small reads."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from execution_plane.durable import Run
    from execution_plane.saga.steps import Saga

DAG_ID = "meeting_booking"
#: Refuses bad input before anything is registered (its failure starts no compensation).
CHECK_TASK = "check_request"
#: The graph holds this many rounds of proposed times (a run's ``max_rounds`` may be fewer).
MAX_ROUNDS = 3
#: What the attendee does with our messages: ``execution_plane.hooks.messaging.RECIPIENT_EVENT_TYPES``
#: (the DAG file cannot load the hook; a test keeps the two equal).
RECIPIENT_EVENTS = ("message.replied", "message.bounced", "message.complained", "message.opted_out")
#: The negotiation's statuses that are endings.
ENDED = ("declined", "expired", "no_agreement", "failed", "cancelled")


def messages_key(run: Run) -> str:
    """The correlation key the attendee's answers are reported under (the conversation the run opens)."""
    return run.correlation_key("messages")


def address_of(params: Any) -> str:
    """Where the negotiation happens: the attendee's email, or their phone for WhatsApp and SMS."""
    return str(params["attendee_email"] if params["channel"] == "email" else params["attendee_phone"])


def deadline(cur: Any, hours: float) -> datetime:
    """now + ``hours`` by the database's clock: a wait's deadline, fixed once by the step's ledger."""
    cur.execute("SELECT now() + make_interval(secs => %s)", (float(hours) * 3600,))
    moment: datetime = cur.fetchone()[0]
    return moment


def meeting_row(cur: Any, workflow_id: str) -> dict[str, Any]:
    cur.execute(
        "SELECT status, agreed_slot, booking_id, reason FROM meeting_bookings WHERE workflow_id = %s",
        (workflow_id,),
    )
    row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"{workflow_id}: no meeting record")
    return dict(zip(("status", "agreed_slot", "booking_id", "reason"), row, strict=True))


def round_rows(cur: Any, workflow_id: str) -> list[dict[str, Any]]:
    cur.execute(
        "SELECT round, options, respond_by, reply_received_at, outcome, agreed_slot, reply"
        " FROM meeting_rounds WHERE workflow_id = %s ORDER BY round",
        (workflow_id,),
    )
    names = ("round", "options", "respond_by", "reply_received_at", "outcome", "agreed_slot", "reply")
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def set_status(saga: Saga, cur: Any, status: str, reason: str | None = None) -> None:
    cur.execute(
        "UPDATE meeting_bookings SET status = %s, reason = COALESCE(%s, reason), updated_at = now()"
        " WHERE workflow_id = %s",
        (status, reason, saga.workflow_id),
    )
