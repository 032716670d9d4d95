"""Findings consolidation and the risk register."""

from __future__ import annotations

from collections.abc import Iterable

from include.domain.common import sha256_hex
from workflows.dd_room.domain.analyzers import INSUFFICIENT_MITIGATION, MITIGATIONS
from workflows.dd_room.domain.models import WORKSTREAMS, ConsolidatedFindings, Finding, Rating, RiskEntry

# Rating thresholds on risk score = severity x likelihood (1..25).
CRITICAL_SCORE = 20
HIGH_SCORE = 12
MEDIUM_SCORE = 6


def _ws_rank(workstream: str) -> int:
    return WORKSTREAMS.index(workstream) if workstream in WORKSTREAMS else len(WORKSTREAMS)


def _sort_key(f: Finding) -> tuple[int, int, int, str]:
    return (-f.risk_score, -f.severity, _ws_rank(f.workstream), f.code)


def consolidate(findings: Iterable[Finding]) -> ConsolidatedFindings:
    """One finding per code (the riskiest; evidence of all duplicates kept), highest risk score first.

    Duplicates come from re-run workstreams or two analysts raising the same issue; counting them twice
    would double the valuation cut. The result does not depend on the input order.
    """
    groups: dict[str, list[Finding]] = {}
    total = 0
    for f in findings:
        groups.setdefault(f.code, []).append(f)
        total += 1
    merged: list[Finding] = []
    for group in groups.values():
        best = min(group, key=lambda f: (-f.risk_score, -f.severity, f.valuation_impact_pct, f.evidence))
        evidence = " | ".join(sorted({f.evidence for f in group}))
        merged.append(best.model_copy(update={"evidence": evidence}))
    merged.sort(key=_sort_key)
    by_ws: dict[str, int] = {}
    for f in merged:
        by_ws[f.workstream] = by_ws.get(f.workstream, 0) + 1
    return ConsolidatedFindings(findings=merged, duplicates_merged=total - len(merged), by_workstream=by_ws)


def rating_for(score: int) -> Rating:
    if score >= CRITICAL_SCORE:
        return "critical"
    if score >= HIGH_SCORE:
        return "high"
    if score >= MEDIUM_SCORE:
        return "medium"
    return "low"


def risk_id(workstream: str, code: str) -> str:
    """Stable id: the same issue keeps its id across re-runs, so upserts and references stay valid."""
    return "RISK-" + sha256_hex(f"{workstream}:{code}".encode()).upper()[:10]


def risk_register(consolidated: ConsolidatedFindings) -> list[RiskEntry]:
    """A register entry per consolidated finding, in the consolidated (risk) order."""
    entries = []
    for f in consolidated.findings:
        mitigation = (
            INSUFFICIENT_MITIGATION
            if f.code.endswith("-INSUFFICIENT-EVIDENCE")
            else MITIGATIONS.get(f.code, "Assign an owner and agree a remediation plan before close.")
        )
        entries.append(
            RiskEntry(
                risk_id=risk_id(f.workstream, f.code),
                code=f.code,
                workstream=f.workstream,
                title=f.title,
                severity=f.severity,
                likelihood=f.likelihood,
                score=f.risk_score,
                rating=rating_for(f.risk_score),
                mitigation=mitigation,
                evidence=f.evidence,
            )
        )
    return entries
