"""What every part of proposal_generation shares: its names, and the proposal's row."""

from __future__ import annotations

from typing import Any

DAG_ID = "proposal_generation"
CHECK_TASK = "deal_data"
GATE = "discount_approval"
DEAL_DESK = "deal_desk"
# The price book's products (domain.SKUS; not imported: the DAG file reads this while it is parsed).
SKUS = ("EP-PLATFORM", "EP-ANALYTICS", "EP-WORKFLOWS", "EP-ARABIC", "EP-SUPPORT-PREMIUM", "EP-ONBOARDING")
# A deal in one of these CRM statuses is decided: no proposal for it.
CLOSED_DEAL_STATUSES = ("closed", "closed_won", "closed_lost", "lost", "won")

_COLUMNS = (
    "deal_id",
    "owner_email",
    "currency",
    "language",
    "items",
    "context_status",
    "context",
    "draft",
    "quote",
    "approval_status",
    "approved_by",
    "document_sha256",
    "status",
)


def proposal_row(cur: Any, workflow_id: str) -> dict[str, Any]:
    cur.execute(f"SELECT {', '.join(_COLUMNS)} FROM proposals WHERE workflow_id = %s", (workflow_id,))
    row = cur.fetchone()
    if row is None:
        raise LookupError(f"no proposal recorded for {workflow_id}")
    return dict(zip(_COLUMNS, row, strict=True))
