"""Inputs and outputs of the trust score."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from include.services.common import BusinessKey, Factor

SubjectType = Literal["partner", "affiliate"]
Severity = Literal["low", "medium", "high", "critical"]
Tier = Literal["trusted", "standard", "watch", "restricted"]


class PaymentRecord(BaseModel):
    """What finance knows: invoices issued to the subject and how they were paid."""

    model_config = ConfigDict(extra="forbid")

    invoices: int = Field(ge=0, le=1_000_000)
    paid_on_time: int = Field(default=0, ge=0)
    paid_late: int = Field(default=0, ge=0)
    defaulted: int = Field(default=0, ge=0)
    overdue_usd: float = Field(default=0, ge=0, le=1e12, description="amount overdue today")

    @model_validator(mode="after")
    def _counts_fit(self) -> PaymentRecord:
        if self.paid_on_time + self.paid_late + self.defaulted > self.invoices:
            raise ValueError("paid_on_time + paid_late + defaulted exceeds invoices")
        return self


class ComplianceFlag(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: BusinessKey
    severity: Severity
    resolved: bool = False


class TrustScoreRequest(BaseModel):
    """Who to score, plus what other systems of record hold about them. The workflows they went through and
    the signatures of the given deals come from the business database."""

    model_config = ConfigDict(extra="forbid")

    subject_type: SubjectType
    subject_id: BusinessKey
    payments: PaymentRecord | None = None
    compliance_flags: list[ComplianceFlag] = Field(default_factory=list, max_length=100)
    deal_ids: list[BusinessKey] = Field(
        default_factory=list,
        max_length=200,
        description="the subject's deals: their signature requests count",
    )


class SignatureRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    signed: int = 0
    declined: int = 0
    expired: int = 0
    voided: int = Field(
        default=0, description="withdrawn by a compensation after a decline, expiry or timeout"
    )
    pending: int = 0


class History(BaseModel):
    """The subject's workflows (by final status) and signature requests, from the business database."""

    model_config = ConfigDict(frozen=True)

    completed: int = 0
    compensated: int = 0
    ended_badly: int = Field(default=0, description="rejected, expired or failed, not (yet) compensated")
    running: int = 0
    signatures: SignatureRecord = Field(default_factory=SignatureRecord)


class TrustScore(BaseModel):
    subject_type: SubjectType
    subject_id: str
    score: int = Field(ge=0, le=100)
    tier: Tier
    factors: list[Factor]
    rules_version: str
    history: History
