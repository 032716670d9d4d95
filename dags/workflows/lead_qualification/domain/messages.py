"""What the CRM is told about each lead, and what its owner reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from include.domain.common import Message
from workflows.lead_qualification.domain.enrichment import Enrichment
from workflows.lead_qualification.domain.routing import RoutingDecision

CRM_STATUS = {"hot": "qualified", "warm": "qualified", "cold": "nurture"}


class RoutedLead(BaseModel):
    """One lead as its owner's message lists it."""

    model_config = ConfigDict(frozen=True)

    lead_id: str
    company_name: str
    contact_name: str | None
    contact_email: str | None
    score: int
    band: str
    degraded: bool
    reason: str
    enrichment: Enrichment


def crm_fields(
    decision: RoutingDecision, *, score: int, degraded: bool, enrichment: Enrichment
) -> dict[str, Any]:
    """The lead's CRM fields after qualification: score, band, segment and what enrichment found."""
    return {
        "score": score,
        "band": decision.band,
        "score_degraded": degraded,
        "segment": decision.segment,
        "routing_reason": decision.reason,
        "company_employees": enrichment.employees,
        "company_industry": enrichment.industry,
        "company_revenue_usd": enrichment.revenue_usd,
        "enrichment_missing": enrichment.missing(),
    }


def _line(lead: RoutedLead) -> str:
    facts = [
        f"score {lead.score} ({lead.band}" + (", without the LLM's reading" if lead.degraded else "") + ")"
    ]
    e = lead.enrichment
    if e.employees:
        facts.append(f"{e.employees:,} employees")
    if e.industry:
        facts.append(e.industry)
    if e.revenue_usd:
        facts.append(f"revenue {e.revenue_usd:,.0f} USD ({e.fiscal_year})")
    if e.gaps:
        facts.append("partly enriched: " + "; ".join(e.missing()))
    who = (
        f"{lead.contact_name} <{lead.contact_email}>"
        if lead.contact_email
        else lead.contact_name or "no contact"
    )
    return f"- {lead.company_name} (lead {lead.lead_id}), {who}: " + ", ".join(facts)


def owner_digest(owner_name: str, leads: Sequence[RoutedLead]) -> Message:
    """One message per owner per batch, listing the leads routed to them."""
    count = len(leads)
    noun = "lead" if count == 1 else "leads"
    lines = [f"Hello {owner_name}, {count} new {noun} routed to you:", ""]
    lines += [_line(lead) for lead in leads]
    lines += ["", "Each is in the CRM with its score, band and the reason it came to you."]
    subject = (
        f"New lead: {leads[0].company_name} (score {leads[0].score})"
        if count == 1
        else f"{count} new leads for you"
    )
    return Message(subject=subject, body="\n".join(lines))
