"""Valuation impact of DD findings.

Each finding carries its own impact (<= 0 %). Impacts add up per workstream, each workstream is capped
at -25% (one bad area should not by itself erase the price: that is a reject decision, not a discount),
and the total is capped at -60%. Findings are consolidated first so a duplicate is never counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from workflows.dd_room.domain.models import WORKSTREAMS, ConsolidatedFindings, Finding, ValuationImpact
from workflows.dd_room.domain.register import consolidate

WORKSTREAM_CAP_PCT = 25.0
TOTAL_CAP_PCT = 60.0


def valuation_impact(
    base_valuation_usd: float, findings: Sequence[Finding] | ConsolidatedFindings
) -> ValuationImpact:
    if base_valuation_usd <= 0:
        raise ValueError("base_valuation_usd must be positive")
    consolidated = findings if isinstance(findings, ConsolidatedFindings) else consolidate(findings)

    raw: dict[str, float] = {ws: 0.0 for ws in WORKSTREAMS}
    for f in consolidated.findings:
        raw[f.workstream] = raw.get(f.workstream, 0.0) + f.valuation_impact_pct

    explanation: list[str] = []
    per_ws: dict[str, float] = {}
    capped = False
    for ws in sorted(raw, key=lambda w: (WORKSTREAMS.index(w) if w in WORKSTREAMS else 99, w)):
        value = round(raw[ws], 2)
        if value < -WORKSTREAM_CAP_PCT:
            explanation.append(f"{ws}: {value:g}% capped at -{WORKSTREAM_CAP_PCT:g}%")
            value, capped = -WORKSTREAM_CAP_PCT, True
        elif value < 0:
            codes = ", ".join(
                f.code for f in consolidated.findings if f.workstream == ws and f.valuation_impact_pct
            )
            explanation.append(f"{ws}: {value:g}% ({codes})")
        per_ws[ws] = value

    total = round(sum(per_ws.values()), 2)
    if total < -TOTAL_CAP_PCT:
        explanation.append(f"total {total:g}% capped at -{TOTAL_CAP_PCT:g}%")
        total, capped = -TOTAL_CAP_PCT, True
    adjusted = round(base_valuation_usd * (1 + total / 100), 2)
    explanation.append(
        f"valuation USD {base_valuation_usd:,.0f} adjusted by {total:g}% to USD {adjusted:,.0f}"
    )
    return ValuationImpact(
        base_valuation_usd=base_valuation_usd,
        adjusted_valuation_usd=adjusted,
        total_adjustment_pct=total,
        per_workstream_pct=per_ws,
        explanation=explanation,
        capped=capped,
    )
