"""Bad endings: the offer record says what happened, at which stage, before compensation starts."""

from __future__ import annotations

from typing import Any, NoReturn

from execution_plane.durable import Run


def record_bad_ending(run: Run, status: str, stage: str, reason: str) -> None:
    with run.saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ma_offers SET status = %s, stage = %s, reason = %s, updated_at = now()"
            " WHERE workflow_id = %s AND status NOT IN ('rejected', 'expired', 'failed', 'withdrawn')",
            (status, stage, reason[:2000], run.workflow_id),
        )


def end_offer(run: Run, status: str, stage: str, reason: str) -> NoReturn:
    """Record the bad ending on the offer, then end the workflow badly (compensation starts)."""
    record_bad_ending(run, status, stage, reason)
    run.end_badly(status, reason)


def record_not_approved(run: Run, decision: dict[str, Any]) -> None:
    """A board gate did not approve: the offer record says so, at that gate (before compensation)."""
    from execution_plane.durable.gates import decision_reason

    record_bad_ending(
        run, str(decision["status"]), str(decision["gate"]), decision_reason(decision, "not approved")
    )
