"""Records produced by the DD room analysis."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

WORKSTREAMS: tuple[str, ...] = ("financial", "legal", "technical", "product", "security")

Rating = Literal["critical", "high", "medium", "low"]
Recommendation = Literal["proceed", "proceed_with_conditions", "reject"]


class Finding(BaseModel):
    """One issue found in one workstream.

    ``valuation_impact_pct`` is <= 0: the percentage the finding takes off the valuation (-5.0 = minus 5%).
    """

    model_config = ConfigDict(frozen=True)

    workstream: str
    code: str
    title: str
    severity: int = Field(ge=1, le=5)
    likelihood: int = Field(ge=1, le=5)
    evidence: str
    valuation_impact_pct: float = Field(le=0)

    @property
    def risk_score(self) -> int:
        return self.severity * self.likelihood


class ConsolidatedFindings(BaseModel):
    model_config = ConfigDict(frozen=True)

    findings: list[Finding]  # one per code, highest risk score first
    duplicates_merged: int
    by_workstream: dict[str, int]


class RiskEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    risk_id: str
    code: str
    workstream: str
    title: str
    severity: int
    likelihood: int
    score: int
    rating: Rating
    mitigation: str
    evidence: str = ""


class ValuationImpact(BaseModel):
    model_config = ConfigDict(frozen=True)

    base_valuation_usd: float
    adjusted_valuation_usd: float
    total_adjustment_pct: float  # <= 0, never below -TOTAL_CAP_PCT
    per_workstream_pct: dict[str, float]
    explanation: list[str]
    capped: bool


class Deal(BaseModel):
    """The deal under diligence (from the CRM). Extra fields are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    deal_id: str = Field(min_length=1)
    target_name: str = Field(min_length=1)
    sector: str = ""
    sponsor: str = ""
