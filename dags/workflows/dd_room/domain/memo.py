"""Investment Committee memo, recommendation, and the lessons-learned record for rejected deals."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from include.domain.common import canonical_json, sha256_hex
from include.domain.documents import Section, Table, render_pdf
from workflows.dd_room.domain.models import WORKSTREAMS, Deal, Recommendation, RiskEntry, ValuationImpact

# Recommendation policy: two critical risks or a >= 35% price cut is a deal we should not do;
# any critical/high risk or a >= 10% cut means closing conditions.
REJECT_CRITICAL_COUNT = 2
REJECT_CUT_PCT = 35.0
CONDITIONS_CUT_PCT = 10.0


def _deal(deal: Deal | Mapping[str, Any]) -> Deal:
    return deal if isinstance(deal, Deal) else Deal.model_validate(dict(deal))


def ic_recommendation(register: list[RiskEntry], impact: ValuationImpact) -> Recommendation:
    critical = sum(1 for r in register if r.rating == "critical")
    high = sum(1 for r in register if r.rating == "high")
    cut = -impact.total_adjustment_pct
    if critical >= REJECT_CRITICAL_COUNT or cut >= REJECT_CUT_PCT:
        return "reject"
    if critical or high or cut >= CONDITIONS_CUT_PCT:
        return "proceed_with_conditions"
    return "proceed"


def _usd(x: float) -> str:
    return f"USD {x:,.0f}"


def ic_memo(
    deal: Deal | Mapping[str, Any],
    register: list[RiskEntry],
    impact: ValuationImpact,
    *,
    prepared_on: date,
) -> bytes:
    """The IC memo PDF (deterministic: dated ``prepared_on``)."""
    d = _deal(deal)
    recommendation = ic_recommendation(register, impact)
    counts = {
        rating: sum(1 for r in register if r.rating == rating)
        for rating in ("critical", "high", "medium", "low")
    }
    summary = Section(
        heading="Summary",
        paragraphs=[
            f"Target: {d.target_name} (deal {d.deal_id})"
            + (f", sector {d.sector}" if d.sector else "")
            + ".",
            f"Recommendation: {recommendation.replace('_', ' ').upper()}.",
            f"Risks: {counts['critical']} critical, {counts['high']} high, {counts['medium']} medium, "
            f"{counts['low']} low.",
            f"Valuation: {_usd(impact.base_valuation_usd)} adjusted by {impact.total_adjustment_pct:g}% "
            f"to {_usd(impact.adjusted_valuation_usd)}.",
        ],
    )
    valuation = Section(
        heading="Valuation impact",
        paragraphs=list(impact.explanation),
        tables=[
            Table(
                header=["Workstream", "Adjustment"],
                rows=[[ws, f"{impact.per_workstream_pct.get(ws, 0.0):g}%"] for ws in WORKSTREAMS]
                + [["Total", f"{impact.total_adjustment_pct:g}%"]],
                col_widths=[2, 1],
            )
        ],
    )
    risks = Section(
        heading="Risk register",
        paragraphs=[] if register else ["No risks were identified."],
        tables=[
            Table(
                header=["Risk id", "Workstream", "Risk", "S", "L", "Score", "Rating"],
                rows=[
                    [
                        r.risk_id,
                        r.workstream,
                        r.title,
                        str(r.severity),
                        str(r.likelihood),
                        str(r.score),
                        r.rating,
                    ]
                    for r in register
                ],
                col_widths=[2.2, 1.6, 4.2, 0.5, 0.5, 0.9, 1.2],
            )
        ]
        if register
        else [],
    )
    conditions = [r for r in register if r.rating in ("critical", "high")]
    sections = [summary, valuation, risks]
    if conditions:
        sections.append(
            Section(
                heading="Conditions and mitigations",
                paragraphs=[f"{r.risk_id} ({r.rating}): {r.mitigation}" for r in conditions],
            )
        )
    sections.append(
        Section(
            heading="Method",
            paragraphs=[
                "Findings come from rule-based analysis of the data-room facts per workstream, "
                "deduplicated by code. Risk score = severity x likelihood (1-25): "
                "critical >= 20, high >= 12, medium >= 6.",
                "Valuation impacts are capped at -25% per workstream and -60% in total.",
            ],
        )
    )
    return render_pdf(
        f"Investment Committee Memo: {d.target_name}",
        sections,
        metadata={
            "created_at": prepared_on.isoformat(),
            "author": "Execution Plane DD",
            "subject": f"IC memo for deal {d.deal_id}",
            "keywords": f"recommendation:{recommendation}",
        },
    )


def lessons_learned(
    deal: Deal | Mapping[str, Any],
    register: list[RiskEntry],
    decision: str,
    reason: str,
    *,
    recorded_on: date | None = None,
) -> dict[str, Any]:
    """Archive record for a deal that did not go ahead (JSON-ready, deterministic ``record_id``)."""
    d = _deal(deal)
    counts = {
        rating: sum(1 for r in register if r.rating == rating)
        for rating in ("critical", "high", "medium", "low")
    }
    per_ws: dict[str, dict[str, int]] = {}
    for r in register:
        entry = per_ws.setdefault(r.workstream, {"risks": 0, "max_score": 0})
        entry["risks"] += 1
        entry["max_score"] = max(entry["max_score"], r.score)
    lessons: list[str] = []
    for r in register:
        if r.code.endswith("-INSUFFICIENT-EVIDENCE"):
            lessons.append(
                f"{r.workstream}: data room was incomplete ({r.evidence}); request it before DD starts."
            )
        elif r.rating in ("critical", "high"):
            lessons.append(
                f"{r.workstream}: '{r.title}' was rated {r.rating}; screen for it before the LOI. "
                f"Mitigation considered: {r.mitigation}"
            )
    top = [
        {"risk_id": r.risk_id, "code": r.code, "title": r.title, "rating": r.rating, "score": r.score}
        for r in register[:5]
    ]
    record: dict[str, Any] = {
        "deal_id": d.deal_id,
        "target_name": d.target_name,
        "sector": d.sector,
        "decision": decision,
        "reason": reason,
        "recorded_on": recorded_on.isoformat() if recorded_on else None,
        "risk_counts": counts,
        "workstreams": per_ws,
        "top_risks": top,
        "lessons": lessons,
    }
    # The id covers the content, so archiving the same lesson twice is an upsert, not a duplicate.
    record["record_id"] = "LL-" + sha256_hex(canonical_json(record))[:16]
    return record
