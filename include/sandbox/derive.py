"""Deterministic fake data: the same id always yields the same partner, company, financials, DD room
documents and calendar. Tests and demos can then assert on concrete numbers without seeding anything."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

T = TypeVar("T")

_COUNTRIES: Sequence[tuple[str, str, str, str]] = (
    # (ISO code, legal suffix, dialling code, city)
    ("DE", "GmbH", "+49", "Berlin"),
    ("GB", "Ltd", "+44", "London"),
    ("US", "Inc", "+1", "Austin"),
    ("FR", "SAS", "+33", "Lyon"),
    ("NL", "B.V.", "+31", "Rotterdam"),
    ("SE", "AB", "+46", "Stockholm"),
    ("ES", "S.L.", "+34", "Madrid"),
    ("BR", "Ltda", "+55", "Sao Paulo"),
    ("IN", "Pvt Ltd", "+91", "Bengaluru"),
    ("SG", "Pte Ltd", "+65", "Singapore"),
)
_INDUSTRIES = (
    "software",
    "logistics",
    "manufacturing",
    "fintech",
    "healthcare",
    "retail",
    "energy",
    "telecom",
)
_FIRST_NAMES = (
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Femi",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kara",
    "Luis",
)
_LAST_NAMES = ("Almeida", "Brandt", "Castillo", "Dubois", "Eriksen", "Fischer", "Gupta", "Hansen", "Ivanova")
_COMPANY_STEMS = (
    "Northwind",
    "Bluepeak",
    "Lumen",
    "Orbital",
    "Cedar",
    "Quanta",
    "Harbor",
    "Vertex",
    "Solace",
)
_COMPLIANCE_FLAG_SETS: Sequence[list[str]] = (
    [],
    [],
    [],
    [],
    [],
    [],
    [],
    ["sanctions_screening_pending"],
    ["pep_match"],
    ["adverse_media", "sanctions_screening_pending"],
)
_FUNDING_STAGES = ("bootstrapped", "seed", "series_a", "series_b", "series_c", "private_equity", "public")
_TECHNOLOGIES = (
    "aws",
    "gcp",
    "azure",
    "kubernetes",
    "postgres",
    "snowflake",
    "salesforce",
    "hubspot",
    "stripe",
)
_DEAL_STAGES = ("qualification", "proposal", "negotiation")

WORKSTREAMS = ("financial", "legal", "technical", "product", "security")
_ROOM_TITLES: dict[str, tuple[str, ...]] = {
    "financial": ("Audited financial statements", "Management accounts and forecast"),
    "legal": ("Material contracts register", "Litigation and IP schedule"),
    "technical": ("Architecture overview", "Operations and reliability report"),
    "product": ("Product roadmap", "Customer metrics pack"),
    "security": ("Security policies and certifications", "Penetration test summary"),
}

SLOT_TIMES = (time(9), time(10), time(11), time(13), time(14), time(15), time(16))
SLOT_LENGTH = timedelta(minutes=30)


def _int(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _pick(options: Sequence[T], *parts: object) -> T:
    return options[_int(*parts) % len(options)]


def _between(low: int, high: int, *parts: object) -> int:
    return low + _int(*parts) % (high - low + 1)


def _ratio(low: float, high: float, *parts: object) -> float:
    return low + (high - low) * (_int(*parts) % 10_001) / 10_000


def hex_digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


def partner_profile(partner_id: str) -> dict[str, Any]:
    country, suffix, dial, _city = _pick(_COUNTRIES, "partner-country", partner_id)
    revenue = _between(500, 250_000, "partner-revenue", partner_id) * 1_000
    return {
        "partner_id": partner_id,
        "name": f"{_pick(_FIRST_NAMES, 'first', partner_id)} {_pick(_LAST_NAMES, 'last', partner_id)}",
        "company": f"{_pick(_COMPANY_STEMS, 'company', partner_id)} {suffix}",
        "country": country,
        "industry": _pick(_INDUSTRIES, "industry", partner_id),
        "annual_revenue_usd": revenue,
        "employees": max(3, revenue // _between(90_000, 250_000, "partner-productivity", partner_id)),
        "years_in_business": _between(1, 40, "partner-years", partner_id),
        "existing_customers": _between(0, 5_000, "partner-customers", partner_id),
        "compliance_flags": list(_pick(_COMPLIANCE_FLAG_SETS, "partner-flags", partner_id)),
        "email": f"{partner_id}@partners.example",
        "whatsapp": f"{dial}{_between(100_000_000, 999_999_999, 'partner-phone', partner_id)}",
        "status": "prospect",
    }


def deal_record(deal_id: str) -> dict[str, Any]:
    return {
        "deal_id": deal_id,
        "name": f"{_pick(_COMPANY_STEMS, 'deal-name', deal_id)} partnership",
        "amount_usd": _between(10, 5_000, "deal-amount", deal_id) * 1_000,
        "currency": "USD",
        "stage": _pick(_DEAL_STAGES, "deal-stage", deal_id),
        "status": "open",
        "owner_email": f"owner{_between(1, 9, 'deal-owner', deal_id)}@crm.example",
    }


def firmographics(domain: str) -> dict[str, Any]:
    country, suffix, _dial, city = _pick(_COUNTRIES, "company-country", domain)
    stem = domain.split(".")[0].replace("-", " ").title()
    employees = _between(5, 20_000, "company-employees", domain)
    technologies = sorted({_pick(_TECHNOLOGIES, "company-tech", domain, n) for n in range(4)})
    industry = _pick(_INDUSTRIES, "company-industry", domain)
    return {
        "domain": domain,
        "company_id": f"co_{hex_digest('company', domain)[:12]}",
        "name": f"{stem} {suffix}",
        "industry": industry,
        "country": country,
        "hq_city": city,
        "employees": employees,
        "founded_year": _between(1985, 2022, "company-founded", domain),
        "estimated_revenue_usd": employees * _between(80, 300, "company-rev-per-head", domain) * 1_000,
        "funding_stage": _pick(_FUNDING_STAGES, "company-funding", domain),
        "technologies": technologies,
        "linkedin_url": f"https://www.linkedin.example/company/{stem.lower().replace(' ', '-')}",
        "description": f"{stem} is a {industry} company headquartered in {city}, {country}.",
    }


def financials(company_id: str, end_year: int, years: int = 3) -> dict[str, Any]:
    """Yearly series ending at ``end_year``; the numbers depend on the id only, not on the year labels."""
    revenue = float(_between(2_000, 500_000, "fin-revenue", company_id) * 1_000)
    series = []
    for index in range(years):
        growth = _ratio(-0.10, 0.45, "fin-growth", company_id, index)
        revenue *= 1 + growth
        margin = _ratio(-0.15, 0.30, "fin-margin", company_id, index)
        debt = revenue * _ratio(0.0, 0.8, "fin-debt", company_id, index)
        cash = revenue * _ratio(0.05, 0.3, "fin-cash", company_id, index)
        series.append(
            {
                "fiscal_year": end_year - years + 1 + index,
                "revenue_usd": round(revenue),
                "revenue_growth_pct": round(growth * 100, 1),
                "ebitda_usd": round(revenue * margin),
                "ebitda_margin_pct": round(margin * 100, 1),
                "total_debt_usd": round(debt),
                "cash_usd": round(cash),
                "net_debt_usd": round(debt - cash),
            }
        )
    return {"company_id": company_id, "currency": "USD", "years": series}


def _room_facts(room_id: str, workstream: str, index: int) -> dict[str, Any]:
    def num(low: int, high: int, name: str) -> int:
        return _between(low, high, "room", room_id, workstream, index, name)

    def pct(low: float, high: float, name: str) -> float:
        return round(_ratio(low, high, "room", room_id, workstream, index, name), 1)

    def flag(name: str, true_in: int) -> bool:
        return num(0, 9, name) < true_in

    match workstream:
        case "financial":
            return {
                "revenue_usd": num(2_000, 400_000, "revenue") * 1_000,
                "ebitda_margin_pct": pct(-10, 35, "margin"),
                "revenue_growth_pct": pct(-15, 60, "growth"),
                "net_debt_usd": num(-50_000, 150_000, "net_debt") * 1_000,
                "audit_opinion": "unqualified" if flag("audit", 8) else "qualified",
            }
        case "legal":
            return {
                "open_litigations": num(0, 6, "litigations"),
                "material_contracts": num(3, 60, "contracts"),
                "change_of_control_clauses": num(0, 12, "coc"),
                "ip_assignments_complete": flag("ip", 7),
            }
        case "technical":
            return {
                "uptime_pct": pct(97.0, 99.99, "uptime"),
                "tech_debt_score": num(0, 10, "tech_debt"),
                "deployments_per_week": num(0, 40, "deploys"),
                "critical_vulnerabilities": num(0, 5, "vulns"),
            }
        case "product":
            return {
                "nps": num(-20, 80, "nps"),
                "annual_churn_pct": pct(1, 35, "churn"),
                "active_customers": num(10, 20_000, "customers"),
                "roadmap_items": num(3, 40, "roadmap"),
            }
        case _:
            return {
                "soc2_type2": flag("soc2", 6),
                "iso27001": flag("iso", 4),
                "last_pentest_days_ago": num(10, 900, "pentest"),
                "open_high_findings": num(0, 8, "high_findings"),
                "incidents_last_12m": num(0, 4, "incidents"),
            }


def room_documents(room_id: str) -> list[dict[str, Any]]:
    documents = []
    for workstream in WORKSTREAMS:
        for index, title in enumerate(_ROOM_TITLES[workstream], start=1):
            documents.append(
                {
                    "document_id": f"{room_id}-{workstream}-{index}",
                    "workstream": workstream,
                    "title": title,
                    "sha256": hex_digest("room-document", room_id, workstream, index),
                    "size_bytes": _between(20_000, 5_000_000, "room-size", room_id, workstream, index),
                    "facts": _room_facts(room_id, workstream, index),
                }
            )
    return documents


def slot_is_busy(start: datetime) -> bool:
    """About one slot in five is taken by someone outside our system, like a real calendar."""
    return _int("calendar-busy", start.isoformat()) % 5 == 0


def candidate_slots(start: date, days: int) -> list[datetime]:
    """Weekday slots in [start, start + days) that are not busy; bookings are subtracted by the caller."""
    slots = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for slot_time in SLOT_TIMES:
            slot = datetime.combine(day, slot_time, tzinfo=UTC)
            if not slot_is_busy(slot):
                slots.append(slot)
    return slots


def is_slot(start: datetime) -> bool:
    return start.weekday() < 5 and start.timetz().replace(tzinfo=None) in SLOT_TIMES


_NUMBER_RE = re.compile(r"(?<![\w.])[-+]?\$?\d[\d,]*(?:\.\d+)?%?")
_SEGMENT_RE = re.compile(r"\n+|(?<=[.!?;])\s+")


def llm_reply(prompt: str) -> dict[str, Any]:
    """A structured "summary" of ``prompt``: echoes its facts and figures, so callers can check grounding."""
    segments = [segment.strip(" -*\t") for segment in _SEGMENT_RE.split(prompt)]
    segments = [segment for segment in segments if segment]
    facts = [segment[:160] for segment in segments if ":" in segment or any(c.isdigit() for c in segment)]
    return {
        "summary": (segments[0][:200] if segments else ""),
        "key_facts": facts[:10],
        "figures": _NUMBER_RE.findall(prompt)[:20],
        "reference": f"sbx-{hex_digest('llm', prompt)[:12]}",
    }


def llm_text(reply: dict[str, Any]) -> str:
    lines = [f"Summary: {reply['summary']}", "Key facts:"]
    lines += [f"- {fact}" for fact in reply["key_facts"]] or ["- none found"]
    lines.append("Figures: " + ("; ".join(reply["figures"]) or "none"))
    lines.append(f"Reference: {reply['reference']}")
    return "\n".join(lines)
