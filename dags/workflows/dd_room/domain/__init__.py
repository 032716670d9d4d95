"""DD Room Orchestration (PRIORITY 2): workstream analysis, risk register, valuation, IC memo.

API:
    WORKSTREAMS = ("financial", "legal", "technical", "product", "security")
    analyze_workstream(workstream: str, documents: list[dict]) -> list[Finding]
        Finding(workstream, code, title, severity 1-5, likelihood 1-5, evidence, valuation_impact_pct <= 0)
        Fact names read per workstream: REQUIRED_FACTS / ``analyzers`` docstring. Missing facts give a
        "<PREFIX>-INSUFFICIENT-EVIDENCE" finding (severity 3), never an exception.
    consolidate(findings) -> ConsolidatedFindings(findings, duplicates_merged, by_workstream)
    risk_register(consolidated) -> list[RiskEntry(risk_id, code, workstream, title, severity, likelihood,
                                                  score, rating "critical"|"high"|"medium"|"low", mitigation,
                                                  evidence)]
    valuation_impact(base_valuation_usd, findings | consolidated)
        -> ValuationImpact(base_valuation_usd, adjusted_valuation_usd, total_adjustment_pct,
                           per_workstream_pct, explanation: list[str], capped)
    ic_recommendation(register, impact) -> "proceed" | "proceed_with_conditions" | "reject"
    ic_memo(deal: Deal | dict, register, impact, *, prepared_on: date) -> bytes   (PDF)
    lessons_learned(deal, register, decision, reason, *, recorded_on: date | None = None) -> dict
    Deal(deal_id, target_name, sector="", sponsor="")
"""

from __future__ import annotations

from workflows.dd_room.domain.analyzers import MITIGATIONS, REQUIRED_FACTS, analyze_workstream, collect_facts
from workflows.dd_room.domain.memo import ic_memo, ic_recommendation, lessons_learned
from workflows.dd_room.domain.models import (
    WORKSTREAMS,
    ConsolidatedFindings,
    Deal,
    Finding,
    Rating,
    Recommendation,
    RiskEntry,
    ValuationImpact,
)
from workflows.dd_room.domain.register import consolidate, rating_for, risk_id, risk_register
from workflows.dd_room.domain.valuation import TOTAL_CAP_PCT, WORKSTREAM_CAP_PCT, valuation_impact

__all__ = [
    "MITIGATIONS",
    "REQUIRED_FACTS",
    "TOTAL_CAP_PCT",
    "WORKSTREAMS",
    "WORKSTREAM_CAP_PCT",
    "ConsolidatedFindings",
    "Deal",
    "Finding",
    "Rating",
    "Recommendation",
    "RiskEntry",
    "ValuationImpact",
    "analyze_workstream",
    "collect_facts",
    "consolidate",
    "ic_memo",
    "ic_recommendation",
    "lessons_learned",
    "rating_for",
    "risk_id",
    "risk_register",
    "valuation_impact",
]
