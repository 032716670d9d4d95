"""Inputs and outputs of lead scoring."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from include.services.common import BusinessKey, Factor, Text

Stage = Literal["new", "contacted", "qualified", "proposal", "won", "lost"]
Source = Literal["referral", "partner", "inbound", "event", "outbound", "other"]
Signal = Literal["positive", "negative", "unknown"]


class Engagement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    emails_opened: int = Field(default=0, ge=0, le=100_000)
    replies: int = Field(default=0, ge=0, le=100_000)
    meetings: int = Field(default=0, ge=0, le=10_000)
    website_visits: int = Field(default=0, ge=0, le=1_000_000)


class Lead(BaseModel):
    """A lead as the CRM holds it. ``notes`` is the free text (call notes, the last message) the LLM reads."""

    model_config = ConfigDict(extra="forbid")

    lead_id: BusinessKey
    stage: Stage = "new"
    company_name: Text = Field(min_length=1, max_length=200)
    company_size: int | None = Field(default=None, ge=1, le=10_000_000, description="employees")
    industry: Text | None = Field(default=None, min_length=1, max_length=80)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    source: Source = "other"
    budget_usd: float | None = Field(default=None, ge=0, le=1e12, description="budget the lead declared")
    engagement: Engagement = Field(default_factory=Engagement)
    notes: Text = Field(default="", max_length=8000)


class LlmJudgement(BaseModel):
    """What the LLM read in the notes: a signal for each of budget, timeline, authority and need."""

    model_config = ConfigDict(frozen=True)

    budget: Signal = "unknown"
    timeline: Signal = "unknown"
    authority: Signal = "unknown"
    need: Signal = "unknown"
    evidence: dict[str, str] = Field(default_factory=dict, description="the fact each signal came from")
    reference: str | None = Field(default=None, description="the provider's reference of the answer")


class LeadScore(BaseModel):
    lead_id: str
    stage: Stage
    score: int = Field(ge=0, le=100)
    band: Literal["hot", "warm", "cold"]
    factors: list[Factor]
    degraded: bool = Field(description="true when the LLM's judgement is missing: a rules-only score")
    degraded_reason: str | None = None
    llm_reference: str | None = None
    rules_version: str
