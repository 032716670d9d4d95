"""Trust score of a partner or affiliate: factor aggregation over its history -> 0-100 with factors, a tier,
and the version of the rules that computed it."""

from __future__ import annotations

from include.services.trust_score.models import (
    ComplianceFlag,
    History,
    PaymentRecord,
    SignatureRecord,
    TrustScore,
    TrustScoreRequest,
)
from include.services.trust_score.rules import RULES_VERSION, score_trust, tier_for

__all__ = [
    "RULES_VERSION",
    "ComplianceFlag",
    "History",
    "PaymentRecord",
    "SignatureRecord",
    "TrustScore",
    "TrustScoreRequest",
    "score_trust",
    "tier_for",
]
