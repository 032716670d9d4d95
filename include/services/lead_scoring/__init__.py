"""Lead scoring: the lead's CRM data (rules) plus an LLM's reading of its notes -> a 0-100 score with its
explained factors and a band.

``score_lead(lead, judgement)`` with the judgement the LLM gave, or ``None`` when it could not: then the
result is the rules-only score rescaled to 0-100, flagged ``degraded`` with the reason, never a silent zero.
"""

from __future__ import annotations

from include.services.lead_scoring.models import Engagement, Lead, LeadScore, LlmJudgement, Signal
from include.services.lead_scoring.rules import (
    LLM_SYSTEM_PROMPT,
    RULES_VERSION,
    band_for,
    judgement_from_answer,
    llm_prompt,
    score_lead,
)

__all__ = [
    "LLM_SYSTEM_PROMPT",
    "RULES_VERSION",
    "Engagement",
    "Lead",
    "LeadScore",
    "LlmJudgement",
    "Signal",
    "band_for",
    "judgement_from_answer",
    "llm_prompt",
    "score_lead",
]
