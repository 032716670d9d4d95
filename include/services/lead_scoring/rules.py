"""The lead scoring rules (version ``lead-v1``).

Rules on the CRM data give up to 60 points:

| factor | points |
|---|---|
| company size | 1-9: 2, 10-49: 6, 50-249: 10, 250-999: 14, 1000+: 15; unknown: 0 |
| industry | 8 in a target industry, else 0 |
| source | referral 12, partner 10, inbound 8, event 6, outbound 3, other 0 |
| engagement | 4 per reply, 6 per meeting, 1 per opened email, 1 per 5 site visits; at most 15 |
| declared budget | >= 100k USD: 10, >= 25k: 6, > 0: 3; none: 0 |

The LLM's judgement of the notes gives up to 40 more: for each of budget, timeline, authority and need,
+10 when the notes show it, -10 when they show its absence, 0 when they say nothing.

Without a judgement (the provider failed, timed out or answered something unreadable) the score is the rules'
points rescaled from 0-60 to 0-100, ``degraded`` with the reason: a lead is never scored 0 because a
provider was down, and the flag says the score lacks the LLM's reading.

Bands: hot >= 70, warm >= 40, else cold.
"""

from __future__ import annotations

import re
from typing import Any

from include.services.common import Factor, clamp_score
from include.services.lead_scoring.models import Lead, LeadScore, LlmJudgement, Signal

RULES_VERSION = "lead-v1"
RULES_MAX = 60.0
LLM_MAX = 40.0
LLM_POINTS_PER_SIGNAL = 10.0
HOT, WARM = 70, 40

TARGET_INDUSTRIES = frozenset(
    {"fintech", "financial services", "software", "saas", "logistics", "healthcare", "insurance", "retail"}
)
SOURCE_POINTS = {"referral": 12, "partner": 10, "inbound": 8, "event": 6, "outbound": 3, "other": 0}
SIGNALS = ("budget", "timeline", "authority", "need")

# How a fact's label is named in notes (and by the LLM); matched on the lowercased label.
_LABELS = {
    "budget": ("budget", "funding", "spend"),
    "timeline": ("timeline", "timing", "start date", "deadline", "go-live", "go live"),
    "authority": ("authority", "decision maker", "decision-maker", "signatory", "approver"),
    "need": ("need", "pain", "problem", "use case", "requirement"),
}
# A value that says the thing is absent or unknown, not present.
_NEGATIVE = re.compile(
    r"\b(no|none|not|without|unknown|unclear|undecided|tbd|n/a|lacks?|missing|frozen|cut|postponed)\b",
    re.IGNORECASE,
)

LLM_SYSTEM_PROMPT = (
    "You qualify sales leads. Read the lead's notes and answer with a JSON object: "
    '{"summary": "<one sentence>", "key_facts": ["<label>: <value>", ...], "figures": ["<number>", ...]}. '
    "Give one key fact for each of budget, timeline, authority (the decision maker) and need that the notes "
    "state, with that word as its label; state a missing one as '<label>: none'. Use only the notes."
)


def llm_prompt(lead: Lead) -> str:
    """The user message: the notes alone (the CRM fields are scored by the rules, not by the LLM)."""
    return lead.notes.strip()


def _signal_of(label: str) -> str | None:
    text = label.strip().lower()
    for signal, names in _LABELS.items():
        if any(text == name or text.startswith(name + " ") for name in names):
            return signal
    return None


def judgement_from_answer(answer: Any) -> LlmJudgement:
    """Read the LLM's JSON answer (``key_facts`` as ``"label: value"``). Raises ``ValueError`` when the
    answer does not have that shape: an unreadable answer is a missing judgement, not an empty one."""
    if not isinstance(answer, dict) or not isinstance(answer.get("key_facts"), list):
        raise ValueError("the LLM answer has no key_facts list")
    signals: dict[str, Signal] = {}
    evidence: dict[str, str] = {}
    for fact in answer["key_facts"]:
        if not isinstance(fact, str) or ":" not in fact:
            continue
        label, value = fact.split(":", 1)
        signal = _signal_of(label)
        if signal is None or not value.strip():
            continue
        found: Signal = "negative" if _NEGATIVE.search(value) else "positive"
        # Notes that say both keep the doubt: a negative statement wins over a positive one.
        if signals.get(signal) != "negative":
            signals[signal] = found
            evidence[signal] = fact.strip()[:200]
    reference = answer.get("reference")
    return LlmJudgement(
        **signals, evidence=evidence, reference=str(reference)[:100] if reference is not None else None
    )


def _size_points(size: int | None) -> tuple[float, str]:
    if size is None:
        return 0, "company size unknown"
    for floor, points in ((1000, 15), (250, 14), (50, 10), (10, 6), (1, 2)):
        if size >= floor:
            return points, f"{size} employees (>= {floor}: {points} points)"
    raise AssertionError("company_size >= 1 is validated")


def _budget_points(budget: float | None) -> tuple[float, str]:
    if not budget:
        return 0, "no budget declared"
    for floor, points in ((100_000, 10), (25_000, 6)):
        if budget >= floor:
            return points, f"declared budget {budget:,.0f} USD (>= {floor:,}: {points} points)"
    return 3, f"declared budget {budget:,.0f} USD (below 25,000: 3 points)"


def rule_factors(lead: Lead) -> list[Factor]:
    points, why = _size_points(lead.company_size)
    factors = [Factor(name="company_size", points=points, max_points=15, explanation=why)]
    industry = (lead.industry or "").strip().lower()
    target = industry in TARGET_INDUSTRIES
    factors.append(
        Factor(
            name="industry",
            points=8 if target else 0,
            max_points=8,
            explanation=(
                f"{lead.industry} is a target industry"
                if target
                else (f"{lead.industry} is not a target industry" if industry else "industry unknown")
            ),
        )
    )
    factors.append(
        Factor(
            name="source",
            points=SOURCE_POINTS[lead.source],
            max_points=12,
            explanation=f"came from {lead.source}",
        )
    )
    e = lead.engagement
    raw = 4 * e.replies + 6 * e.meetings + e.emails_opened + e.website_visits // 5
    factors.append(
        Factor(
            name="engagement",
            points=min(15, raw),
            max_points=15,
            explanation=(
                f"{e.replies} replies, {e.meetings} meetings, {e.emails_opened} opened emails, "
                f"{e.website_visits} site visits ({raw} points, at most 15)"
            ),
        )
    )
    points, why = _budget_points(lead.budget_usd)
    factors.append(Factor(name="declared_budget", points=points, max_points=10, explanation=why))
    return factors


def llm_factors(judgement: LlmJudgement) -> list[Factor]:
    factors = []
    for signal in SIGNALS:
        value: Signal = getattr(judgement, signal)
        points = {"positive": LLM_POINTS_PER_SIGNAL, "negative": -LLM_POINTS_PER_SIGNAL, "unknown": 0.0}[
            value
        ]
        said = judgement.evidence.get(signal)
        explanation = {
            "positive": f"the notes show {signal}",
            "negative": f"the notes show no {signal}",
            "unknown": f"the notes say nothing about {signal}",
        }[value] + (f" ({said!r})" if said else "")
        factors.append(
            Factor(
                name=f"llm_{signal}", points=points, max_points=LLM_POINTS_PER_SIGNAL, explanation=explanation
            )
        )
    return factors


def band_for(score: int) -> str:
    return "hot" if score >= HOT else "warm" if score >= WARM else "cold"


def score_lead(
    lead: Lead, judgement: LlmJudgement | None, *, degraded_reason: str | None = None
) -> LeadScore:
    """The score of ``lead``: rules + the LLM's judgement, or rules only (rescaled, flagged) without one."""
    rules = rule_factors(lead)
    rules_points = sum(f.points for f in rules)
    if judgement is not None:
        factors = rules + llm_factors(judgement)
        score = clamp_score(sum(f.points for f in factors))
        degraded, reason, reference = False, None, judgement.reference
    else:
        score = clamp_score(rules_points * 100 / RULES_MAX)
        reason = degraded_reason or "no LLM judgement"
        factors = [
            *rules,
            Factor(
                name="llm_judgement",
                points=0,
                max_points=LLM_MAX,
                explanation=(
                    f"missing ({reason}): rules-only score, {rules_points:g} of {RULES_MAX:g} rule points "
                    "rescaled to 0-100"
                ),
            ),
        ]
        degraded, reference = True, None
    return LeadScore(
        lead_id=lead.lead_id,
        stage=lead.stage,
        score=score,
        band=band_for(score),  # type: ignore[arg-type]
        factors=factors,
        degraded=degraded,
        degraded_reason=reason,
        llm_reference=reference,
        rules_version=RULES_VERSION,
    )
