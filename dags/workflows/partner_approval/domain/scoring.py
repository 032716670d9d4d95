"""Explainable partner fit score.

Weights (maximum points, sum 100):
    revenue_scale    20  log scale, USD 250k -> 0 points, USD 50M+ -> full
    industry_fit     20  core target industry -> full, adjacent -> half, other -> 0
    market_priority  20  country tier: tier 1 (SA, AE) full, tier 2 70%, tier 3 40%, elsewhere 15%
    track_record     15  linear, 10+ years in business -> full
    customer_base    15  log scale, 500+ existing customers -> full
    team_capacity    10  log scale, 200+ employees -> full
Compliance flags are a penalty factor (weight -100): a severe flag (sanctions, AML, fraud, bribery...)
removes every point; any other flag costs 10 points. The penalty never takes the score below zero,
so the factor points always add up exactly to the score.

Bands: strong >= 70, moderate >= 45, weak below (and always weak with a severe flag).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict

from workflows.partner_approval.domain.profile import PartnerProfile

SCORING_VERSION = "fit-v1"

Band = Literal["strong", "moderate", "weak"]

WEIGHTS: dict[str, int] = {
    "revenue_scale": 20,
    "industry_fit": 20,
    "market_priority": 20,
    "track_record": 15,
    "customer_base": 15,
    "team_capacity": 10,
}
COMPLIANCE_WEIGHT = -100
MINOR_FLAG_PENALTY = 10

STRONG_THRESHOLD = 70
MODERATE_THRESHOLD = 45

REVENUE_FLOOR_USD = 250_000.0
REVENUE_FULL_USD = 50_000_000.0
CUSTOMERS_FULL = 500
EMPLOYEES_FULL = 200
YEARS_FULL = 10.0

CORE_INDUSTRIES = frozenset(
    {"software", "saas", "it services", "technology", "fintech", "telecommunications", "consulting"}
)
ADJACENT_INDUSTRIES = frozenset(
    {
        "financial services",
        "banking",
        "insurance",
        "e-commerce",
        "retail",
        "logistics",
        "healthcare",
        "education",
        "real estate",
        "marketing",
    }
)

MARKET_TIERS: dict[str, float] = {
    "SA": 1.0,
    "AE": 1.0,
    "KW": 0.7,
    "QA": 0.7,
    "BH": 0.7,
    "OM": 0.7,
    "EG": 0.4,
    "JO": 0.4,
    "MA": 0.4,
}
OTHER_MARKET = 0.15

SEVERE_FLAGS = frozenset(
    {
        "sanctions",
        "sanctioned",
        "sanctions_hit",
        "aml",
        "aml_alert",
        "money_laundering",
        "fraud",
        "bribery",
        "corruption",
        "terrorist_financing",
    }
)


class Factor(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    weight: int  # maximum points (negative for a penalty factor)
    value: float  # fraction of the weight earned, 0..1
    points: int
    explanation: str


class FitScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    score: int
    band: Band
    factors: list[Factor]
    version: str = SCORING_VERSION

    def factor(self, name: str) -> Factor:
        return next(f for f in self.factors if f.name == name)


def _round(x: float) -> int:
    # Half-up, not banker's rounding: 7.5 points is 8 for every reader of the explanation.
    return math.floor(x + 0.5)


def _clamp01(x: float) -> float:
    return max(0.0, min(1.0, x))


def _log_fraction(value: float, full: float) -> float:
    return _clamp01(math.log10(1 + max(value, 0)) / math.log10(1 + full))


def _revenue_fraction(revenue: float) -> float:
    if revenue <= REVENUE_FLOOR_USD:
        return 0.0
    return _clamp01(
        math.log10(revenue / REVENUE_FLOOR_USD) / math.log10(REVENUE_FULL_USD / REVENUE_FLOOR_USD)
    )


def _industry_fraction(industry: str) -> tuple[float, str]:
    key = industry.strip().lower()
    if key in CORE_INDUSTRIES:
        return 1.0, "core target industry"
    if key in ADJACENT_INDUSTRIES:
        return 0.5, "adjacent industry"
    return 0.0, "outside target industries"


def band_for(score: int, *, severe_flag: bool = False) -> Band:
    if severe_flag:
        return "weak"
    if score >= STRONG_THRESHOLD:
        return "strong"
    if score >= MODERATE_THRESHOLD:
        return "moderate"
    return "weak"


def fit_score(profile: PartnerProfile) -> FitScore:
    """Score ``profile`` 0-100 with one explained factor per criterion (see module docstring)."""
    factors: list[Factor] = []

    def add(name: str, fraction: float, explanation: str) -> None:
        weight = WEIGHTS[name]
        factors.append(
            Factor(
                name=name,
                weight=weight,
                value=round(fraction, 4),
                points=_round(weight * fraction),
                explanation=explanation,
            )
        )

    rev = profile.annual_revenue_usd
    add(
        "revenue_scale",
        _revenue_fraction(rev),
        f"annual revenue USD {rev:,.0f} (0 at <= {REVENUE_FLOOR_USD:,.0f}, full at {REVENUE_FULL_USD:,.0f})",
    )

    ind_fraction, ind_reason = _industry_fraction(profile.industry)
    add("industry_fit", ind_fraction, f"industry '{profile.industry or 'unknown'}': {ind_reason}")

    code = profile.country_code
    tier = MARKET_TIERS.get(code, OTHER_MARKET)
    add("market_priority", tier, f"country {code}: market priority {tier:.0%}")

    years = profile.years_in_business
    add("track_record", _clamp01(years / YEARS_FULL), f"{years:g} years in business (full at {YEARS_FULL:g})")

    customers = profile.existing_customers
    add(
        "customer_base",
        _log_fraction(customers, CUSTOMERS_FULL),
        f"{customers} existing customers (full at {CUSTOMERS_FULL})",
    )

    employees = profile.employees
    add(
        "team_capacity",
        _log_fraction(employees, EMPLOYEES_FULL),
        f"{employees} employees (full at {EMPLOYEES_FULL})",
    )

    positive = sum(f.points for f in factors)
    flags = profile.compliance_flags
    severe = sorted(set(flags) & SEVERE_FLAGS)
    minor = sorted(set(flags) - SEVERE_FLAGS)
    if severe:
        raw_penalty = positive
        reason = f"severe compliance flag(s) {', '.join(severe)}: disqualifying"
    else:
        raw_penalty = MINOR_FLAG_PENALTY * len(minor)
        reason = (
            f"{len(minor)} compliance flag(s) {', '.join(minor)} at -{MINOR_FLAG_PENALTY} each"
            if minor
            else "no compliance flags"
        )
    # Capped at the positive points so the sum of factor points is the (non-negative) score.
    penalty = min(raw_penalty, positive)
    if penalty < raw_penalty:
        reason += f" (penalty limited to {penalty} so the score stays at 0)"
    factors.append(
        Factor(
            name="compliance",
            weight=COMPLIANCE_WEIGHT,
            value=round(penalty / -COMPLIANCE_WEIGHT, 4),
            points=-penalty,
            explanation=reason,
        )
    )
    score = positive - penalty
    return FitScore(score=score, band=band_for(score, severe_flag=bool(severe)), factors=factors)
