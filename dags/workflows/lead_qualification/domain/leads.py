"""A lead as the CRM holds it, and the company behind it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Addresses at these domains say nothing about the company: no domain to research.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "proton.me",
        "protonmail.com",
        "aol.com",
        "gmx.de",
        "mail.ru",
        "yandex.ru",
    }
)


class LeadNotFound(ValueError):
    """A lead id of the request that the CRM does not have: bad input, refused before anything happens."""

    def __init__(self, field: str, lead_id: str) -> None:
        super().__init__(f"{field}: lead {lead_id!r} is not in the CRM (deleted, merged away or mistyped)")
        self.field = field
        self.lead_id = lead_id


class CrmLead(BaseModel):
    """The CRM's lead record: what its web form or import captured (anything else the CRM sends is kept)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    lead_id: str
    company_name: str = Field(min_length=1)
    company_domain: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    industry: str | None = None
    company_size: int | None = Field(default=None, ge=1)
    budget_usd: float | None = Field(default=None, ge=0)
    source: str = "other"
    engagement: dict[str, int] = Field(default_factory=dict)
    notes: str = ""
    stage: str = "new"
    status: str = "new"
    owner_id: str | None = None

    def snapshot(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def company_domain(lead: CrmLead) -> str | None:
    """The company's web domain: the CRM's, else the contact's email domain unless it is a free-mail one."""
    if lead.company_domain:
        return lead.company_domain.strip().lower().removeprefix("www.")
    if lead.contact_email and "@" in lead.contact_email:
        domain = lead.contact_email.rsplit("@", 1)[1].strip().lower()
        if domain and domain not in FREE_MAIL_DOMAINS:
            return domain
    return None
