"""``POST /lead-scores``: score a lead and store the score."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from execution_plane.services import lead_scoring
from execution_plane.services.auth import service_access
from include.services.lead_scoring import Lead

router = APIRouter(tags=["lead scoring"])


@router.post(
    "/lead-scores",
    dependencies=[Depends(service_access("lead_scoring", "POST"))],
    response_model=lead_scoring.LeadScoreResult,
    summary="Score a lead (rules + the LLM's reading of its notes) and store it by lead id",
)
def score_lead(lead: Lead) -> lead_scoring.LeadScoreResult:
    """The same lead with the same data twice is one row, unchanged. When the LLM fails or times out the
    score is rules-only, ``degraded: true`` with the reason."""
    return lead_scoring.score(lead)
