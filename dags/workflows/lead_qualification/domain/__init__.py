"""lead_qualification's business rules: what a CRM lead says, what enrichment adds, which owner takes it.
Pure Python and pydantic: no Airflow, no toolkit, no database or HTTP client."""

from __future__ import annotations

from workflows.lead_qualification.domain.enrichment import (
    Enrichment,
    SourceGap,
    enrichment_from,
    scoring_input,
)
from workflows.lead_qualification.domain.leads import (
    FREE_MAIL_DOMAINS,
    CrmLead,
    LeadNotFound,
    company_domain,
)
from workflows.lead_qualification.domain.messages import CRM_STATUS, RoutedLead, crm_fields, owner_digest
from workflows.lead_qualification.domain.routing import (
    Band,
    LeadToRoute,
    NoOwner,
    Owner,
    RoutingDecision,
    Segment,
    choose_owner,
    route_batch,
    segment_for,
)

__all__ = [
    "CRM_STATUS",
    "FREE_MAIL_DOMAINS",
    "Band",
    "CrmLead",
    "Enrichment",
    "LeadNotFound",
    "LeadToRoute",
    "NoOwner",
    "Owner",
    "RoutedLead",
    "RoutingDecision",
    "Segment",
    "SourceGap",
    "choose_owner",
    "company_domain",
    "crm_fields",
    "enrichment_from",
    "owner_digest",
    "route_batch",
    "scoring_input",
    "segment_for",
]
