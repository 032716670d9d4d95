"""What a workflow is doing, in the page's words: the saga's status, and for a running workflow what it is
parked on (a person, an outside system, a date) or that it is working."""

from __future__ import annotations

from typing import Literal

WaitKind = Literal["person", "system", "date"]
WAIT_KINDS: tuple[WaitKind, ...] = ("person", "system", "date")

# A running workflow waiting on several things at once (parallel approvals, a person and a child) shows the
# first kind of this order; the "waits on" column lists them all.
WAITING: dict[WaitKind, str] = {
    "person": "waiting_person",
    "system": "waiting_system",
    "date": "waiting_date",
}
ENDED = ("completed", "rejected", "expired", "failed", "compensating", "compensated", "compensation_failed")
STATES = ("running", *WAITING.values(), *ENDED)
# Filter values: every state, and "waiting" for any of the three waits.
STATUS_FILTERS = (*STATES, "waiting")

LABELS = {
    "running": "Running",
    "waiting_person": "Waiting on a person",
    "waiting_system": "Waiting on an outside system",
    "waiting_date": "Waiting on a date",
    "completed": "Completed",
    "rejected": "Rejected",
    "expired": "Expired",
    "failed": "Failed",
    "compensating": "Compensating",
    "compensated": "Compensated",
    "compensation_failed": "Compensation failed",
    "waiting": "Waiting (any)",
}


def state_of(saga_status: str, kinds: set[str]) -> str:
    """The page's state of a workflow whose saga has ``saga_status`` and that waits on ``kinds`` now."""
    if saga_status != "running":
        return saga_status
    return next((WAITING[kind] for kind in WAIT_KINDS if kind in kinds), "running")
