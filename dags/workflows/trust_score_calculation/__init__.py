"""trust_score_calculation: a partner's or affiliate's trust score from its history (the trust service)."""

from __future__ import annotations
