"""``POST /trust-scores``: compute a partner's or affiliate's trust score and store it."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from execution_plane.services import trust_score
from execution_plane.services.auth import service_access
from include.services.trust_score import TrustScoreRequest

router = APIRouter(tags=["trust score"])


@router.post(
    "/trust-scores",
    dependencies=[Depends(service_access("trust_score_calculation", "POST"))],
    response_model=trust_score.TrustScoreResult,
    summary="Score a partner or affiliate from its history and store it, with the rules version",
)
def compute_trust_score(request: TrustScoreRequest) -> trust_score.TrustScoreResult:
    """The same request over the same history twice is one row, same revision (``stored: unchanged``)."""
    return trust_score.compute(request)
