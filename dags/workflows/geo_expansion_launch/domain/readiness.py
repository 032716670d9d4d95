"""Market readiness: the launch team's checklist, judged before anything is filed or signed.

Every check must pass; the report names each one with what it found, so a refused launch says why.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.geo_expansion_launch.domain.plan import LaunchPlan

#: Local-hours support coverage a market needs at launch (a full business day).
MIN_SUPPORT_HOURS = 8


class ReadinessChecklist(BaseModel):
    """What the launch team reports about the market (the run's ``readiness`` param)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    localization_complete: bool
    pricing_in_local_currency: bool
    tax_registration: bool
    support_coverage_hours: int = Field(ge=0, le=24)
    payment_methods: tuple[str, ...] = ()
    privacy_review: Literal["approved", "pending", "rejected"]
    data_residency_required: bool = False


class ReadinessCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    detail: str


class ReadinessReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    market: str
    ready: bool
    checks: tuple[ReadinessCheck, ...]

    @property
    def failed(self) -> tuple[ReadinessCheck, ...]:
        return tuple(check for check in self.checks if not check.passed)

    def reason(self) -> str:
        """One line for the run's note: the failed checks, or that the market is ready."""
        if self.ready:
            return f"market {self.market} is ready ({len(self.checks)} checks passed)"
        return f"market {self.market} is not ready: " + "; ".join(
            f"{check.name}: {check.detail}" for check in self.failed
        )


def _check(name: str, passed: bool, ok: str, not_ok: str) -> ReadinessCheck:
    return ReadinessCheck(name=name, passed=passed, detail=ok if passed else not_ok)


def assess_readiness(plan: LaunchPlan, checklist: ReadinessChecklist) -> ReadinessReport:
    """Judge the checklist against the plan (a data-residency market needs a region in that country)."""
    methods = [method.strip() for method in checklist.payment_methods if method.strip()]
    region_country = plan.region_country
    checks = (
        _check(
            "localization",
            checklist.localization_complete,
            "product and support content localized",
            "localization is not complete",
        ),
        _check(
            "pricing",
            checklist.pricing_in_local_currency,
            "prices set in the local currency",
            "no prices in the local currency",
        ),
        _check(
            "tax", checklist.tax_registration, "registered for local taxes", "not registered for local taxes"
        ),
        _check(
            "support",
            checklist.support_coverage_hours >= MIN_SUPPORT_HOURS,
            f"{checklist.support_coverage_hours} h of local-hours support",
            f"{checklist.support_coverage_hours} h of local-hours support,"
            f" at least {MIN_SUPPORT_HOURS} h needed",
        ),
        _check(
            "payments",
            bool(methods),
            f"local payment methods ready: {', '.join(sorted(methods))}",
            "no local payment method ready",
        ),
        _check(
            "privacy",
            checklist.privacy_review == "approved",
            "privacy review approved",
            f"privacy review {checklist.privacy_review}",
        ),
        _check(
            "data_residency",
            not checklist.data_residency_required or region_country == plan.market,
            f"data stays in {region_country} ({plan.region})"
            if checklist.data_residency_required
            else "no data residency requirement",
            f"data must stay in {plan.market} but region {plan.region} is in {region_country}",
        ),
    )
    return ReadinessReport(market=plan.market, ready=all(c.passed for c in checks), checks=checks)
