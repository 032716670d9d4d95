"""Canary guardrails: the canary's error rate, latency and conversion against the launch's limits.

- **breach**: enough users saw the canary and a figure is past its limit: the launch rolls back by itself;
- **pass**: enough users, every figure within its limit: a person decides how to scale;
- **inconclusive**: too few users in the window to judge either way: a person decides (usually to hold
  for another window), nothing rolls back on noise.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["pass", "breach", "inconclusive"]


class Guardrails(BaseModel):
    """The limits (the run's ``guardrails`` param; every field has the launch team's usual default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_error_rate: float = Field(0.02, gt=0, le=1, description="Share of canary requests that may fail")
    max_p95_latency_ms: float = Field(800, gt=0, description="p95 latency the canary may reach")
    min_conversion_ratio: float = Field(
        0.9, gt=0, le=2, description="Canary conversion / the existing markets' conversion, at least"
    )
    min_sample_size: int = Field(100, ge=1, description="Canary users in the window needed to judge")


class CanaryFigures(BaseModel):
    """What the product metrics say about the canary's users over the window (and the baseline)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sample_size: int = Field(ge=0)
    error_rate: float = Field(ge=0, le=1)
    p95_latency_ms: float = Field(ge=0)
    conversion_rate: float = Field(ge=0, le=1)
    baseline_conversion_rate: float = Field(gt=0, le=1)


class GuardrailCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: str
    value: float
    limit: float
    within: bool
    detail: str


class CanaryEvaluation(BaseModel):
    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    checks: tuple[GuardrailCheck, ...]
    sample_size: int

    @property
    def breaches(self) -> tuple[GuardrailCheck, ...]:
        return tuple(check for check in self.checks if not check.within)

    def summary(self) -> str:
        """One line: the verdict and the figures behind it."""
        figures = "; ".join(check.detail for check in self.checks)
        if self.verdict == "breach":
            return "guardrail breached: " + "; ".join(check.detail for check in self.breaches)
        if self.verdict == "inconclusive":
            return f"inconclusive: only {self.sample_size} canary users in the window ({figures})"
        return f"within guardrails: {figures}"


def evaluate_canary(figures: CanaryFigures, guardrails: Guardrails) -> CanaryEvaluation:
    ratio = figures.conversion_rate / figures.baseline_conversion_rate
    checks = (
        GuardrailCheck(
            metric="error_rate",
            value=figures.error_rate,
            limit=guardrails.max_error_rate,
            within=figures.error_rate <= guardrails.max_error_rate,
            detail=f"error rate {figures.error_rate:.2%} (limit {guardrails.max_error_rate:.2%})",
        ),
        GuardrailCheck(
            metric="p95_latency_ms",
            value=figures.p95_latency_ms,
            limit=guardrails.max_p95_latency_ms,
            within=figures.p95_latency_ms <= guardrails.max_p95_latency_ms,
            detail=f"p95 latency {figures.p95_latency_ms:.0f} ms"
            f" (limit {guardrails.max_p95_latency_ms:.0f} ms)",
        ),
        GuardrailCheck(
            metric="conversion_ratio",
            value=round(ratio, 4),
            limit=guardrails.min_conversion_ratio,
            within=ratio >= guardrails.min_conversion_ratio,
            detail=f"conversion {figures.conversion_rate:.2%} = {ratio:.2f} x baseline "
            f"(at least {guardrails.min_conversion_ratio:.2f} x)",
        ),
    )
    if figures.sample_size < guardrails.min_sample_size:
        verdict: Verdict = "inconclusive"
    elif all(check.within for check in checks):
        verdict = "pass"
    else:
        verdict = "breach"
    return CanaryEvaluation(verdict=verdict, checks=checks, sample_size=figures.sample_size)
