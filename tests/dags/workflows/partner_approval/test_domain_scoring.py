from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from workflows.partner_approval.domain import WEIGHTS, PartnerProfile, country_code, fit_score


def crm(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "partner_id": "P-100",
        "name": "Sara Al-Qahtani",
        "company": "Riyadh Tech Co",
        "country": "Saudi Arabia",
        "industry": "SaaS",
        "annual_revenue_usd": 12_000_000,
        "employees": 80,
        "years_in_business": 7,
        "existing_customers": 150,
        "compliance_flags": [],
        "email": "sara@example.com",
        "whatsapp": "+966500000000",
        "crm_only_field": "ignored",
    }
    base.update(over)
    return base


def profile(**over: Any) -> PartnerProfile:
    return PartnerProfile.model_validate(crm(**over))


def test_weights_sum_to_100() -> None:
    assert sum(WEIGHTS.values()) == 100


def test_profile_from_crm_normalises() -> None:
    p = profile(compliance_flags=["KYC Pending", "kyc-pending", " "])
    assert p.country_code == "SA"
    assert p.compliance_flags == ["kyc_pending"]


@pytest.mark.parametrize("field,value", [("annual_revenue_usd", -1), ("employees", -5), ("partner_id", "")])
def test_profile_rejects_invalid(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        profile(**{field: value})


@pytest.mark.parametrize(
    "raw,code", [("sa", "SA"), ("UAE", "AE"), ("United Arab Emirates", "AE"), ("Narnia", "NARNIA")]
)
def test_country_code(raw: str, code: str) -> None:
    assert country_code(raw) == code


def test_strong_partner() -> None:
    fit = fit_score(profile())
    assert fit.band == "strong"
    assert fit.score == sum(f.points for f in fit.factors)
    assert [f.name for f in fit.factors] == [*WEIGHTS, "compliance"]
    assert fit.factor("industry_fit").points == 20
    assert fit.factor("market_priority").points == 20
    assert fit.factor("compliance").points == 0
    assert all(f.explanation for f in fit.factors)


def test_maximum_and_minimum_profiles() -> None:
    top = fit_score(
        profile(annual_revenue_usd=1e9, employees=10_000, years_in_business=40, existing_customers=10**5)
    )
    assert top.score == 100
    bottom = fit_score(
        profile(
            annual_revenue_usd=0,
            employees=0,
            years_in_business=0,
            existing_customers=0,
            industry="mining",
            country="Narnia",
        )
    )
    assert bottom.score == 3  # only the "other market" 15% of 20 points
    assert bottom.band == "weak"


def test_adjacent_industry_gets_half() -> None:
    assert fit_score(profile(industry="Logistics")).factor("industry_fit").points == 10
    assert fit_score(profile(industry="Mining")).factor("industry_fit").points == 0


def test_minor_flags_cost_ten_points_each() -> None:
    clean = fit_score(profile())
    flagged = fit_score(profile(compliance_flags=["kyc_pending", "late_filings"]))
    assert flagged.score == clean.score - 20
    assert flagged.factor("compliance").points == -20


def test_severe_flag_is_disqualifying() -> None:
    fit = fit_score(profile(compliance_flags=["Sanctions"]))
    assert fit.score == 0
    assert fit.band == "weak"
    assert sum(f.points for f in fit.factors) == 0
    assert "severe" in fit.factor("compliance").explanation


def test_penalty_never_below_zero() -> None:
    weak = profile(
        annual_revenue_usd=0,
        employees=1,
        years_in_business=1,
        existing_customers=1,
        industry="mining",
        country="Narnia",
        compliance_flags=["a", "b", "c", "d", "e"],
    )
    fit = fit_score(weak)
    assert fit.score == 0 and sum(f.points for f in fit.factors) == 0
    assert "limited" in fit.factor("compliance").explanation


def test_moderate_band_threshold() -> None:
    fit = fit_score(profile(country="Egypt", industry="Retail", existing_customers=40))
    assert fit.band == "moderate", fit.score


def test_flag_order_does_not_matter() -> None:
    assert fit_score(profile(compliance_flags=["b", "a"])) == fit_score(profile(compliance_flags=["a", "b"]))


@given(
    revenue=st.floats(min_value=0, max_value=1e12, allow_nan=False),
    employees=st.integers(min_value=0, max_value=10**6),
    years=st.floats(min_value=0, max_value=200, allow_nan=False),
    customers=st.integers(min_value=0, max_value=10**7),
    flags=st.lists(st.sampled_from(["kyc_pending", "late_filings", "fraud", "pep", "x"]), max_size=4),
    industry=st.sampled_from(["saas", "retail", "mining", ""]),
    country=st.sampled_from(["SA", "KW", "EG", "US", "Narnia"]),
)
def test_score_bounded_and_explained(
    revenue: float,
    employees: int,
    years: float,
    customers: int,
    flags: list[str],
    industry: str,
    country: str,
) -> None:
    fit = fit_score(
        profile(
            annual_revenue_usd=revenue,
            employees=employees,
            years_in_business=years,
            existing_customers=customers,
            compliance_flags=flags,
            industry=industry,
            country=country,
        )
    )
    assert 0 <= fit.score <= 100
    assert fit.score == sum(f.points for f in fit.factors)
    for f in fit.factors:
        assert 0 <= f.value <= 1
        assert (0 <= f.points <= f.weight) if f.weight > 0 else (f.weight <= f.points <= 0)
    expected = "strong" if fit.score >= 70 else "moderate" if fit.score >= 45 else "weak"
    assert fit.band == ("weak" if "fraud" in flags else expected)
