"""What company research and financial data add to a lead, and what the lead scoring then reads.

Partial data is allowed: each source that could not answer leaves a gap with its reason, and whether the
gap is transient (rate limited, provider down: worth asking again soon) or definitive (the provider does
not know the company). The CRM's own facts win over enrichment: they are what the lead told the sales team.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.lead_qualification.domain.leads import CrmLead

Source = Literal["research", "financials"]
SCORING_SOURCES = ("referral", "partner", "inbound", "event", "outbound", "other")
SCORING_STAGES = ("new", "contacted", "qualified", "proposal", "won", "lost")
ENGAGEMENT_FIELDS = ("emails_opened", "replies", "meetings", "website_visits")


TRANSIENT_MARK = " (transient)"


class SourceGap(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: Source
    reason: str
    transient: bool = Field(
        description="the source may answer later (rate limit, outage); else it never will"
    )

    def as_text(self) -> str:
        """``research: rate limited (transient)``: how a gap is stored (``company_enrichments.missing``)."""
        return f"{self.source}: {self.reason}" + (TRANSIENT_MARK if self.transient else "")

    @classmethod
    def from_text(cls, text: str) -> SourceGap:
        source, _, reason = text.partition(": ")
        transient = reason.endswith(TRANSIENT_MARK)
        return cls.model_validate(
            {"source": source, "reason": reason.removesuffix(TRANSIENT_MARK), "transient": transient}
        )


class Enrichment(BaseModel):
    """Firmographics (research) and the latest fiscal year (financials) of the lead's company."""

    model_config = ConfigDict(frozen=True)

    domain: str | None
    company_id: str | None = None
    name: str | None = None
    industry: str | None = None
    country: str | None = None
    employees: int | None = None
    estimated_revenue_usd: float | None = None
    funding_stage: str | None = None
    technologies: list[str] = Field(default_factory=list)
    fiscal_year: int | None = None
    revenue_usd: float | None = None
    revenue_growth_pct: float | None = None
    ebitda_margin_pct: float | None = None
    gaps: list[SourceGap] = Field(default_factory=list)

    @property
    def partial(self) -> bool:
        return bool(self.gaps)

    @property
    def transient_gaps(self) -> bool:
        return any(gap.transient for gap in self.gaps)

    def missing(self) -> list[str]:
        return [gap.as_text() for gap in self.gaps]


def enrichment_from(
    domain: str | None,
    firmographics: dict[str, Any] | None,
    financials: dict[str, Any] | None,
    gaps: list[SourceGap],
) -> Enrichment:
    """One enrichment from what each source answered (either may be missing)."""
    firm = firmographics or {}
    years = sorted((financials or {}).get("years") or [], key=lambda year: int(year["fiscal_year"]))
    latest = years[-1] if years else {}
    return Enrichment(
        domain=domain,
        company_id=firm.get("company_id"),
        name=firm.get("name"),
        industry=firm.get("industry"),
        country=firm.get("country"),
        employees=firm.get("employees"),
        estimated_revenue_usd=firm.get("estimated_revenue_usd"),
        funding_stage=firm.get("funding_stage"),
        technologies=list(firm.get("technologies") or []),
        fiscal_year=latest.get("fiscal_year"),
        revenue_usd=latest.get("revenue_usd"),
        revenue_growth_pct=latest.get("revenue_growth_pct"),
        ebitda_margin_pct=latest.get("ebitda_margin_pct"),
        gaps=gaps,
    )


def scoring_input(lead: CrmLead, enrichment: Enrichment) -> dict[str, Any]:
    """The lead as lead scoring reads it (``include.services.lead_scoring.Lead``): the CRM's facts, gaps
    filled from enrichment."""
    engagement = {name: int(lead.engagement.get(name, 0)) for name in ENGAGEMENT_FIELDS}
    industry = lead.industry or enrichment.industry
    return {
        "lead_id": lead.lead_id,
        "stage": lead.stage if lead.stage in SCORING_STAGES else "new",
        "company_name": lead.company_name[:200],
        "company_size": lead.company_size or enrichment.employees,
        "industry": industry[:80] if industry else None,
        "country": lead.country or enrichment.country,
        "source": lead.source if lead.source in SCORING_SOURCES else "other",
        "budget_usd": lead.budget_usd,
        "engagement": engagement,
        "notes": lead.notes[:8000],
    }
