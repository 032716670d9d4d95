"""What every part of affiliate_onboarding shares: its names and a few small reads and writes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from execution_plane.durable import Run
    from execution_plane.saga.steps import Saga
    from workflows.affiliate_onboarding.domain import Application

DAG_ID = "affiliate_onboarding"
#: Refuses bad input before anything is registered (its failure starts no compensation).
CHECK_TASK = "check_application"
#: The payout provider's verdicts: ``execution_plane.hooks.affiliates.PAYOUT_EVENT_TYPES`` (the DAG file
#: cannot load the hook; a test keeps the two equal).
PAYOUT_EVENTS = ("payout_profile.verified", "payout_profile.rejected")
#: Where the tracking links point: one link per landing page.
CAMPAIGN = "affiliate-default"
LANDING_PAGES = [
    "https://execution-plane.example/",
    "https://execution-plane.example/pricing",
    "https://execution-plane.example/signup",
]
#: How an affiliate may promote: ``domain.PROMOTION_METHODS`` (a test keeps the two equal).
PROMOTION_METHODS = [
    "content",
    "social",
    "email",
    "paid_search",
    "coupons",
    "cashback",
    "review_site",
    "influencer",
]
REVIEWER = "manager"
#: ``decided_by`` of a decision the evaluation's rules took.
RULE = "rule"


def application_of(run: Run) -> Application:
    from workflows.affiliate_onboarding.domain import parse_application

    return parse_application(run.params)


def deadline(cur: Any, hours: float) -> datetime:
    """now + ``hours`` by the database's clock: a wait's deadline, fixed once by the step's ledger."""
    cur.execute("SELECT now() + make_interval(secs => %s)", (float(hours) * 3600,))
    moment: datetime = cur.fetchone()[0]
    return moment


def set_status(
    cur: Any, workflow_id: str, status: str, reason: str | None = None, *, decided_by: str | None = None
) -> None:
    """The application's status (a reason and who decided, when given), on the ledger's cursor or a plain
    one."""
    cur.execute(
        "UPDATE affiliate_applications SET status = %s, reason = coalesce(%s, reason),"
        " decided_by = coalesce(%s, decided_by), updated_at = now() WHERE workflow_id = %s",
        (status, reason, decided_by, workflow_id),
    )


def record_bad_ending(saga: Saga, status: str, reason: str) -> None:
    """The application's bad ending (rejected, expired, failed), written before compensation starts."""
    with saga.conn() as conn, conn.cursor() as cur:
        set_status(cur, saga.workflow_id, status, reason)
