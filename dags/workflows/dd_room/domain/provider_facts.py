"""What the data-room and financial-data providers call a fact, as the analyzers read it (pure)."""

from __future__ import annotations

import re
from typing import Any


def _monthly_from_annual_churn(annual_pct: Any) -> float | None:
    if isinstance(annual_pct, bool) or not isinstance(annual_pct, int | float) or not 0 <= annual_pct < 100:
        return None
    return round((1 - (1 - annual_pct / 100) ** (1 / 12)) * 100, 2)


# What the data-room provider calls a fact, and the domain's name for it (domain/analyzers.py).
# Only facts with the same meaning are mapped: a fact the room does not hold stays missing, and the analyzer
# reports it as insufficient evidence instead of us guessing it.
_FACT_NAMES: dict[str, dict[str, str]] = {
    "legal": {
        "open_litigations": "open_litigation_count",
        "change_of_control_clauses": "change_of_control_contracts",
        "material_contracts": "material_contracts_count",
    },
    "technical": {"uptime_pct": "uptime_pct_12m"},
    "product": {},
    "security": {"last_pentest_days_ago": "last_pen_test_age_days"},
    "financial": {},
}


def domain_facts(workstream: str, facts: dict[str, Any]) -> dict[str, Any]:
    out = dict(facts)
    for provider_name, name in _FACT_NAMES[workstream].items():
        if provider_name in facts:
            out[name] = facts[provider_name]
    if workstream == "legal" and isinstance(facts.get("ip_assignments_complete"), bool):
        # "not complete" is at least one contributor without an assignment: the analyzer's lowest gap count.
        out["ip_assignment_gaps"] = 0 if facts["ip_assignments_complete"] else 1
    if workstream == "product" and "annual_churn_pct" in facts:
        monthly = _monthly_from_annual_churn(facts["annual_churn_pct"])
        if monthly is not None:
            out["monthly_churn_pct"] = monthly
    return out


def financials_document(company_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The financial data API's yearly series as one more document of the financial workstream."""
    rows = [
        {
            "year": y.get("fiscal_year"),
            "revenue": y.get("revenue_usd"),
            "ebitda": y.get("ebitda_usd"),
            "debt": y.get("total_debt_usd"),
        }
        for y in body.get("years", [])
    ]
    return {
        "doc_id": f"financials-api:{company_id}",
        "workstream": "financial",
        "title": "Financial data API: yearly series",
        "facts": {"financials": rows},
    }


def company_id_for(deal: dict[str, Any], target_company: str) -> str:
    return str(deal.get("company_id") or re.sub(r"[^a-z0-9]+", "-", target_company.lower()).strip("-"))
