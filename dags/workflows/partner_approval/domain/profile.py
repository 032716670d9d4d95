"""Partner profile as received from the CRM."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Country names the CRM is known to send, mapped to ISO 3166-1 alpha-2 so scoring and territory use one key.
COUNTRY_ALIASES: dict[str, str] = {
    "saudi arabia": "SA",
    "kingdom of saudi arabia": "SA",
    "ksa": "SA",
    "united arab emirates": "AE",
    "uae": "AE",
    "kuwait": "KW",
    "qatar": "QA",
    "bahrain": "BH",
    "oman": "OM",
    "egypt": "EG",
    "jordan": "JO",
    "morocco": "MA",
    "united kingdom": "GB",
    "uk": "GB",
    "united states": "US",
    "usa": "US",
}


def country_code(country: str) -> str:
    """ISO-2 code for a CRM country value (code or known name); unknown names are upper-cased as-is."""
    value = country.strip()
    if len(value) == 2:
        return value.upper()
    return COUNTRY_ALIASES.get(value.lower(), value.upper())


class PartnerProfile(BaseModel):
    """A prospective partner. Extra CRM fields are ignored so CRM schema growth does not break the flow."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    partner_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    company: str = Field(min_length=1)
    country: str = Field(min_length=2)
    industry: str = ""
    annual_revenue_usd: float = Field(ge=0)
    employees: int = Field(ge=0)
    years_in_business: float = Field(ge=0)
    existing_customers: int = Field(ge=0)
    compliance_flags: list[str] = Field(default_factory=list)
    email: str = ""
    whatsapp: str = ""

    @field_validator("compliance_flags")
    @classmethod
    def _normalise_flags(cls, flags: list[str]) -> list[str]:
        # Sorted and deduplicated: the score must not depend on the order the CRM lists flags in.
        return sorted({f.strip().lower().replace(" ", "_").replace("-", "_") for f in flags if f.strip()})

    @property
    def country_code(self) -> str:
        return country_code(self.country)
