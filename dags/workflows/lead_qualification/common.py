"""What every part of lead_qualification shares: its names, and the rows of its leads."""

from __future__ import annotations

from typing import Any

DAG_ID = "lead_qualification"
CHECK_TASK = "check_leads"
# Gaps a provider may fill soon (rate limited, down) are asked again after this, whatever the cache's hours.
RETRY_GAPS_AFTER_HOURS = 0.25


def lead_rows(cur: Any, workflow_id: str) -> list[dict[str, Any]]:
    """This workflow's leads with what each step recorded, in lead id order."""
    cur.execute(
        "SELECT lead_id, status, lead, company_domain, enrichment, score, band, score_degraded, owner_id,"
        " owner_email, routing FROM lead_qualifications WHERE workflow_id = %s ORDER BY lead_id",
        (workflow_id,),
    )
    names = ("lead_id", "status", "lead", "company_domain", "enrichment", "score", "band", "score_degraded")
    return [
        {
            **dict(zip(names, row[:8], strict=True)),
            "owner_id": row[8],
            "owner_email": row[9],
            "routing": row[10],
        }
        for row in cur.fetchall()
    ]
