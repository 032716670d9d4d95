from __future__ import annotations

import json
import random
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.dd_room.domain import (
    TOTAL_CAP_PCT,
    WORKSTREAM_CAP_PCT,
    WORKSTREAMS,
    Finding,
    RiskEntry,
    ValuationImpact,
    analyze_workstream,
    consolidate,
    ic_memo,
    ic_recommendation,
    lessons_learned,
    rating_for,
    risk_id,
    risk_register,
    valuation_impact,
)

DEAL = {"deal_id": "D-42", "target_name": "Acme Analytics", "sector": "SaaS", "crm_extra": 1}


def f(
    code: str, ws: str = "financial", sev: int = 3, lik: int = 3, impact: float = -1.0, ev: str = "e"
) -> Finding:
    return Finding(
        workstream=ws,
        code=code,
        title=code.title(),
        severity=sev,
        likelihood=lik,
        evidence=ev,
        valuation_impact_pct=impact,
    )


def test_finding_bounds() -> None:
    with pytest.raises(ValueError):
        f("X", sev=6)
    with pytest.raises(ValueError):
        f("X", lik=0)
    with pytest.raises(ValueError):
        f("X", impact=1.0)


def test_consolidate_dedups_by_code_keeping_riskiest_and_all_evidence() -> None:
    c = consolidate([f("A", sev=2, ev="first"), f("B", sev=5, lik=5), f("A", sev=4, ev="second")])
    assert [x.code for x in c.findings] == ["B", "A"]
    a = c.findings[1]
    assert a.severity == 4 and a.evidence == "first | second"
    assert c.duplicates_merged == 1
    assert c.by_workstream == {"financial": 2}


def test_consolidate_is_order_independent() -> None:
    items = [f(f"C{i}", ws=WORKSTREAMS[i % 5], sev=1 + i % 5, lik=1 + (i * 3) % 5) for i in range(12)]
    items += items[:4]
    shuffled = list(items)
    random.Random(7).shuffle(shuffled)
    assert consolidate(items) == consolidate(shuffled)


def test_consolidate_sort_order() -> None:
    c = consolidate(
        [f("Z", ws="security", sev=4, lik=4), f("Y", ws="legal", sev=4, lik=4), f("X", sev=2, lik=4)]
    )
    assert [x.code for x in c.findings] == ["Y", "Z", "X"]


@pytest.mark.parametrize(
    "score,rating",
    [
        (25, "critical"),
        (20, "critical"),
        (16, "high"),
        (12, "high"),
        (9, "medium"),
        (6, "medium"),
        (5, "low"),
        (1, "low"),
    ],
)
def test_rating_thresholds(score: int, rating: str) -> None:
    assert rating_for(score) == rating


def test_risk_register_entries() -> None:
    reg = risk_register(
        consolidate(
            [
                f("SEC-CRITICAL-VULNS", ws="security", sev=5, lik=5),
                f("LEG-INSUFFICIENT-EVIDENCE", ws="legal"),
                f("NEW-CODE", sev=1, lik=2),
            ]
        )
    )
    assert [r.rating for r in reg] == ["critical", "medium", "low"]
    assert reg[0].score == 25 and "re-test" in reg[0].mitigation
    assert "missing data-room documents" in reg[1].mitigation
    assert reg[2].mitigation  # a default mitigation, never empty
    assert reg[0].risk_id == risk_id("security", "SEC-CRITICAL-VULNS")
    assert reg[0].risk_id.startswith("RISK-") and len(reg[0].risk_id) == 15
    # Stable across runs and distinct across codes.
    assert (
        risk_register(consolidate([f("SEC-CRITICAL-VULNS", ws="security", sev=5, lik=5)]))[0].risk_id
        == reg[0].risk_id
    )
    assert len({r.risk_id for r in reg}) == 3


def test_valuation_impact_basic() -> None:
    vi = valuation_impact(10_000_000, [f("A", impact=-5), f("B", ws="legal", impact=-2.5)])
    assert vi.total_adjustment_pct == -7.5
    assert vi.adjusted_valuation_usd == 9_250_000
    assert vi.per_workstream_pct == {
        "financial": -5.0,
        "legal": -2.5,
        "technical": 0.0,
        "product": 0.0,
        "security": 0.0,
    }
    assert not vi.capped
    assert any("legal: -2.5%" in line for line in vi.explanation)


def test_valuation_duplicates_not_double_counted() -> None:
    assert valuation_impact(100.0, [f("A", impact=-5), f("A", impact=-5)]).total_adjustment_pct == -5


def test_valuation_caps() -> None:
    ws_cap = valuation_impact(100.0, [f(f"F{i}", impact=-10) for i in range(5)])
    assert ws_cap.per_workstream_pct["financial"] == -WORKSTREAM_CAP_PCT
    assert ws_cap.capped
    total = valuation_impact(
        1_000_000.0, [f(f"{ws}{i}", ws=ws, impact=-15) for ws in WORKSTREAMS for i in range(3)]
    )
    assert total.total_adjustment_pct == -TOTAL_CAP_PCT
    assert total.adjusted_valuation_usd == 400_000
    assert "capped at -60%" in " ".join(total.explanation)


def test_valuation_no_findings_and_bad_base() -> None:
    vi = valuation_impact(5e6, [])
    assert vi.total_adjustment_pct == 0 and vi.adjusted_valuation_usd == 5e6
    with pytest.raises(ValueError):
        valuation_impact(0, [])


@given(
    st.lists(
        st.tuples(
            st.sampled_from(WORKSTREAMS),
            st.integers(0, 30),
            st.floats(min_value=-50, max_value=0, allow_nan=False),
        ),
        max_size=40,
    )
)
def test_valuation_always_bounded(items: list[tuple[str, int, float]]) -> None:
    vi = valuation_impact(1e6, [f(f"C{n}", ws=ws, impact=imp) for ws, n, imp in items])
    assert -TOTAL_CAP_PCT <= vi.total_adjustment_pct <= 0
    assert all(-WORKSTREAM_CAP_PCT <= v <= 0 for v in vi.per_workstream_pct.values())
    assert 0.4e6 - 0.01 <= vi.adjusted_valuation_usd <= 1e6


def test_recommendation_policy() -> None:
    clean = valuation_impact(1e6, [])
    assert ic_recommendation([], clean) == "proceed"
    low = risk_register(consolidate([f("L", sev=1, lik=2)]))
    assert ic_recommendation(low, clean) == "proceed"
    high = risk_register(consolidate([f("H", sev=4, lik=4)]))
    assert ic_recommendation(high, clean) == "proceed_with_conditions"
    one_crit = risk_register(consolidate([f("C", sev=5, lik=4)]))
    assert ic_recommendation(one_crit, clean) == "proceed_with_conditions"
    two_crit = risk_register(consolidate([f("C", sev=5, lik=4), f("D", sev=5, lik=5)]))
    assert ic_recommendation(two_crit, clean) == "reject"
    assert ic_recommendation([], valuation_impact(1e6, [f("A", impact=-12)])) == "proceed_with_conditions"
    big_cut = valuation_impact(1e6, [f(f"{ws}", ws=ws, impact=-9) for ws in WORKSTREAMS])
    assert ic_recommendation([], big_cut) == "reject"


def pipeline() -> tuple[list[RiskEntry], ValuationImpact]:
    docs = {
        "financial": [
            {
                "doc_id": "fin",
                "facts": {
                    "financials": [{"year": 2024, "revenue": 5e6, "ebitda": -1e6, "debt": 4e6}],
                    "top_customer_revenue_pct": 50,
                },
            }
        ],
        "security": [
            {
                "doc_id": "sec",
                "facts": {
                    "critical_vulns_open": 5,
                    "last_pen_test_age_days": 30,
                    "security_incidents_24m": 0,
                },
            }
        ],
    }
    findings = [x for ws in WORKSTREAMS for x in analyze_workstream(ws, docs.get(ws, []))]
    c = consolidate(findings)
    return risk_register(c), valuation_impact(20e6, c)


def test_ic_memo_pdf_deterministic() -> None:
    reg, vi = pipeline()
    a = ic_memo(DEAL, reg, vi, prepared_on=date(2025, 4, 1))
    assert a.startswith(b"%PDF-")
    assert a == ic_memo(DEAL, reg, vi, prepared_on=date(2025, 4, 1))
    assert a != ic_memo(DEAL, reg, vi, prepared_on=date(2025, 4, 2))
    assert ic_memo(DEAL, [], valuation_impact(1e6, []), prepared_on=date(2025, 4, 1)).startswith(b"%PDF-")


def test_ic_memo_rejects_bad_deal() -> None:
    reg, vi = pipeline()
    with pytest.raises(ValueError):
        ic_memo({"deal_id": "D"}, reg, vi, prepared_on=date(2025, 4, 1))


def test_lessons_learned_record() -> None:
    reg, vi = pipeline()
    assert ic_recommendation(reg, vi) == "reject"
    rec = lessons_learned(DEAL, reg, "reject", "Two critical risks", recorded_on=date(2025, 4, 3))
    assert rec["deal_id"] == "D-42" and rec["decision"] == "reject" and rec["recorded_on"] == "2025-04-03"
    assert rec["risk_counts"]["critical"] >= 2
    assert rec["top_risks"][0]["risk_id"] == reg[0].risk_id
    assert any("data room was incomplete" in lesson for lesson in rec["lessons"])
    assert any("rated critical" in lesson for lesson in rec["lessons"])
    assert json.loads(json.dumps(rec)) == rec
    again = lessons_learned(DEAL, reg, "reject", "Two critical risks", recorded_on=date(2025, 4, 3))
    assert again["record_id"] == rec["record_id"]
    other = lessons_learned(DEAL, reg, "reject", "Different reason", recorded_on=date(2025, 4, 3))
    assert other["record_id"] != rec["record_id"]


def test_lessons_learned_empty_register() -> None:
    rec = lessons_learned(DEAL, [], "reject", "strategic")
    assert rec["lessons"] == [] and rec["top_risks"] == [] and rec["recorded_on"] is None
