from __future__ import annotations

from typing import Any

import pytest

from workflows.dd_room.domain import REQUIRED_FACTS, WORKSTREAMS, Finding, analyze_workstream, collect_facts

FIN_OK = [
    {"year": 2022, "revenue": 10e6, "ebitda": 2.0e6, "debt": 2e6},
    {"year": 2023, "revenue": 12e6, "ebitda": 2.4e6, "debt": 2e6},
    {"year": 2024, "revenue": 14e6, "ebitda": 3.0e6, "debt": 3e6},
]
HEALTHY: dict[str, dict[str, Any]] = {
    "financial": {"financials": FIN_OK, "top_customer_revenue_pct": 10},
    "legal": {"open_litigation_count": 0, "change_of_control_contracts": 0, "ip_assignment_gaps": 0},
    "technical": {"unsupported_dependencies": [], "test_coverage_pct": 80, "uptime_pct_12m": 99.95},
    "product": {"monthly_churn_pct": 1.0, "nps": 45, "roadmap_concentration_pct": 30},
    "security": {"critical_vulns_open": 0, "last_pen_test_age_days": 90, "security_incidents_24m": 0},
}


def doc(ws: str, **facts: Any) -> dict[str, Any]:
    return {"doc_id": f"{ws}-001", "workstream": ws, "facts": {**HEALTHY[ws], **facts}}


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def one(findings: list[Finding], code: str) -> Finding:
    matches = [f for f in findings if f.code == code]
    assert len(matches) == 1, codes(findings)
    return matches[0]


@pytest.mark.parametrize("ws", WORKSTREAMS)
def test_healthy_target_has_no_findings(ws: str) -> None:
    assert analyze_workstream(ws, [doc(ws)]) == []


@pytest.mark.parametrize("ws", WORKSTREAMS)
def test_no_documents_gives_insufficient_evidence_not_a_crash(ws: str) -> None:
    findings = analyze_workstream(ws, [])
    assert len(findings) == 1
    f = findings[0]
    assert f.code.endswith("-INSUFFICIENT-EVIDENCE") and f.workstream == ws
    assert (f.severity, f.likelihood) == (3, 3)
    for fact in REQUIRED_FACTS[ws]:
        assert fact in f.evidence


@pytest.mark.parametrize("ws", WORKSTREAMS)
def test_garbage_documents_never_crash(ws: str) -> None:
    junk: list[Any] = [
        None,
        42,
        "text",
        {"facts": "not a mapping"},
        {"facts": {k: {"x": 1} for k in HEALTHY[ws]}},
    ]
    findings = analyze_workstream(ws, junk)
    assert codes(findings)[-1].endswith("-INSUFFICIENT-EVIDENCE")
    assert "unreadable" in findings[-1].evidence


def test_unknown_workstream_raises() -> None:
    with pytest.raises(ValueError):
        analyze_workstream("hr", [])


def test_other_workstream_documents_are_ignored_and_later_docs_override() -> None:
    docs = [
        {"doc_id": "a", "workstream": "legal", "facts": {"open_litigation_count": 9}},
        {"doc_id": "b", "facts": {"nps": 10}},
        {"doc_id": "c", "nps": 50},
    ]
    values, source = collect_facts("product", docs)
    assert "open_litigation_count" not in values
    assert values["nps"] == 50 and source["nps"] == "c"


def test_revenue_concentration() -> None:
    f = one(
        analyze_workstream("financial", [doc("financial", top_customer_revenue_pct="45%")]),
        "FIN-REV-CONCENTRATION",
    )
    assert (f.severity, f.likelihood) == (4, 4)
    assert f.valuation_impact_pct == -6.25
    assert "financial-001" in f.evidence
    moderate = one(
        analyze_workstream("financial", [doc("financial", top_customer_revenue_pct=30)]),
        "FIN-REV-CONCENTRATION",
    )
    assert moderate.severity == 3


def test_negative_and_declining_ebitda_with_leverage() -> None:
    series = [
        {"year": 2024, "revenue": 8e6, "ebitda": -0.5e6, "debt": 8e6},  # order of rows does not matter
        {"year": 2022, "revenue": 10e6, "ebitda": 2e6, "debt": 5e6},
        {"year": 2023, "revenue": 9e6, "ebitda": 1e6, "debt": 6e6},
    ]
    findings = analyze_workstream("financial", [doc("financial", financials=series)])
    assert one(findings, "FIN-EBITDA-NEGATIVE").severity == 5
    assert one(findings, "FIN-LEVERAGE").severity == 5
    decline = one(findings, "FIN-REVENUE-DECLINE")
    assert decline.title == "Revenue fell 11.1% in 2024"


def test_declining_positive_ebitda() -> None:
    series = [
        {"year": 2022, "revenue": 10e6, "ebitda": 3e6, "debt": 0},
        {"year": 2023, "revenue": 10e6, "ebitda": 2.5e6, "debt": 0},
        {"year": 2024, "revenue": 10e6, "ebitda": 2e6, "debt": 0},
    ]
    findings = analyze_workstream("financial", [doc("financial", financials=series)])
    assert codes(findings) == ["FIN-EBITDA-DECLINE"]


@pytest.mark.parametrize("debt,severity", [(2e6, None), (8e6, 3), (10e6, 4), (20e6, 5)])
def test_leverage_bands(debt: float, severity: int | None) -> None:
    series = [{"year": 2024, "revenue": 20e6, "ebitda": 2.5e6, "debt": debt}]
    findings = analyze_workstream("financial", [doc("financial", financials=series)])
    lev = [f for f in findings if f.code == "FIN-LEVERAGE"]
    assert [f.severity for f in lev] == ([severity] if severity else [])


def test_missing_debt_is_insufficient_evidence_but_other_rules_run() -> None:
    series = [{"year": 2024, "revenue": 20e6, "ebitda": -1e6}]
    findings = analyze_workstream("financial", [doc("financial", financials=series)])
    assert codes(findings) == ["FIN-EBITDA-NEGATIVE", "FIN-INSUFFICIENT-EVIDENCE"]
    assert "financials[2024].debt" in findings[-1].evidence


def test_legal_rules() -> None:
    findings = analyze_workstream(
        "legal",
        [
            doc(
                "legal",
                open_litigation_count=3,
                litigation_exposure_usd=2e6,
                change_of_control_contracts=3,
                material_contracts_count=8,
                ip_assignment_gaps=6,
            )
        ],
    )
    assert codes(findings) == ["LEG-LITIGATION", "LEG-CHANGE-OF-CONTROL", "LEG-IP-ASSIGNMENT"]
    assert all(f.severity == 4 for f in findings)
    assert "litigation_exposure_usd" in findings[0].evidence
    assert "38% of 8" in findings[1].evidence
    mild = analyze_workstream(
        "legal", [doc("legal", change_of_control_contracts=1, material_contracts_count=20)]
    )
    assert one(mild, "LEG-CHANGE-OF-CONTROL").severity == 3


def test_technical_rules() -> None:
    findings = analyze_workstream(
        "technical",
        [doc("technical", unsupported_dependencies=12, test_coverage_pct=20, uptime_pct_12m="98.5")],
    )
    assert [(f.code, f.severity) for f in findings] == [
        ("TECH-UNSUPPORTED-DEPS", 4),
        ("TECH-LOW-TEST-COVERAGE", 4),
        ("TECH-AVAILABILITY", 4),
    ]
    listed = analyze_workstream(
        "technical", [doc("technical", unsupported_dependencies=["py2.7", "angularjs"])]
    )
    assert one(listed, "TECH-UNSUPPORTED-DEPS").severity == 2


def test_product_rules() -> None:
    findings = analyze_workstream(
        "product", [doc("product", monthly_churn_pct=6, nps=-10, roadmap_concentration_pct=80)]
    )
    assert [(f.code, f.severity) for f in findings] == [
        ("PROD-CHURN", 5),
        ("PROD-NPS", 4),
        ("PROD-ROADMAP-CONCENTRATION", 4),
    ]


def test_security_rules() -> None:
    findings = analyze_workstream(
        "security",
        [doc("security", critical_vulns_open=4, last_pen_test_age_days=400, security_incidents_24m=3)],
    )
    assert [(f.code, f.severity, f.likelihood) for f in findings] == [
        ("SEC-CRITICAL-VULNS", 5, 5),
        ("SEC-PEN-TEST-STALE", 4, 3),
        ("SEC-INCIDENTS", 5, 4),
    ]
    never = analyze_workstream("security", [doc("security", last_pen_test_age_days="never")])
    assert one(never, "SEC-PEN-TEST-STALE").title == "No penetration test ever performed"


def test_boolean_is_not_a_number() -> None:
    findings = analyze_workstream("legal", [doc("legal", open_litigation_count=True)])
    assert codes(findings) == ["LEG-INSUFFICIENT-EVIDENCE"]


def test_flat_documents_without_facts_key() -> None:
    flat = {"id": "sec-flat", **HEALTHY["security"], "critical_vulns_open": 1}
    f = one(analyze_workstream("security", [flat]), "SEC-CRITICAL-VULNS")
    assert "sec-flat" in f.evidence


@pytest.mark.parametrize("ws", WORKSTREAMS)
def test_findings_are_bounded_and_deterministic(ws: str) -> None:
    bad = {
        "financial": {
            "financials": [{"year": 2024, "revenue": 1, "ebitda": -5, "debt": 9}],
            "top_customer_revenue_pct": 100,
        },
        "legal": {"open_litigation_count": 50, "change_of_control_contracts": 50, "ip_assignment_gaps": 50},
        "technical": {"unsupported_dependencies": 500, "test_coverage_pct": 0, "uptime_pct_12m": 50},
        "product": {"monthly_churn_pct": 50, "nps": -100, "roadmap_concentration_pct": 100},
        "security": {"critical_vulns_open": 99, "last_pen_test_age_days": 9999, "security_incidents_24m": 99},
    }[ws]
    docs = [{"doc_id": "x", "facts": bad}]
    findings = analyze_workstream(ws, docs)
    assert findings == analyze_workstream(ws, docs)
    assert findings
    for f in findings:
        assert 1 <= f.severity <= 5 and 1 <= f.likelihood <= 5
        assert -15 <= f.valuation_impact_pct <= 0
