"""The launch plan a run starts with: the market, its cloud region, the local partners and the rollout."""

from __future__ import annotations

import itertools
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
MARKET_PATTERN = r"^[A-Z]{2}$"

#: The cloud regions the platform runs in, with the country their data stays in (data residency).
REGION_COUNTRY: dict[str, str] = {
    "af-south-1": "ZA",
    "ap-northeast-1": "JP",
    "ap-south-1": "IN",
    "ap-southeast-1": "SG",
    "ap-southeast-2": "AU",
    "ca-central-1": "CA",
    "eu-central-1": "DE",
    "eu-south-2": "ES",
    "eu-west-2": "GB",
    "eu-west-3": "FR",
    "il-central-1": "IL",
    "me-central-1": "AE",
    "me-south-1": "BH",
    "mx-central-1": "MX",
    "sa-east-1": "BR",
    "us-east-1": "US",
}


class LocalPartner(BaseModel):
    """A local partner whose contract is signed through ``signature_commitment`` before the launch."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    partner_id: str = Field(pattern=ID_PATTERN)
    deal_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    signer_email: str = Field(pattern=EMAIL_PATTERN, max_length=254)
    signer_name: str = Field(min_length=1, max_length=200)
    terms: dict[str, Any] = Field(min_length=1)

    @field_validator("partner_id", "deal_id")
    @classmethod
    def no_double_dot(cls, value: str) -> str:
        # Ids end up in Airflow run ids, which refuse "..".
        if ".." in value:
            raise ValueError("must not contain '..'")
        return value

    @property
    def stage(self) -> str:
        """The child stage of this partner's contract: its own, so each child is started once."""
        return f"partner-{self.partner_id}"


class LaunchPlan(BaseModel):
    """What the launch team decided before starting: where, with whom, how fast."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    market: str = Field(pattern=MARKET_PATTERN)
    market_name: str = Field(min_length=1, max_length=100)
    region: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    partners: tuple[LocalPartner, ...] = Field(min_length=1)
    rollout_steps_pct: tuple[int, ...] = Field(min_length=1)

    @field_validator("region")
    @classmethod
    def known_region(cls, value: str) -> str:
        if value not in REGION_COUNTRY:
            raise ValueError(f"unknown region {value!r}; one of {sorted(REGION_COUNTRY)}")
        return value

    @field_validator("rollout_steps_pct")
    @classmethod
    def ascending_shares(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= pct <= 99 for pct in value):
            raise ValueError("each rollout step is a share of users from 1 to 99 %; 100 % is the full launch")
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError(f"rollout steps must grow: {list(value)}")
        return value

    @model_validator(mode="after")
    def distinct_partners(self) -> LaunchPlan:
        seen: set[str] = set()
        for partner in self.partners:
            key = _stage_key(partner.partner_id)
            if key in seen:
                raise ValueError(f"partner {partner.partner_id!r} is listed twice")
            seen.add(key)
        return self

    @property
    def region_country(self) -> str:
        return REGION_COUNTRY[self.region]

    @property
    def canary_pct(self) -> int:
        return self.rollout_steps_pct[0]

    def flag_key(self, request_id: str) -> str:
        """The market's launch flag: one per launch request, readable in the flag provider's console."""
        return f"geo-launch-{self.market.lower()}-{_stage_key(request_id).lower()}"[:100]

    def partner(self, partner_id: str) -> LocalPartner:
        for partner in self.partners:
            if partner.partner_id == partner_id:
                return partner
        raise KeyError(partner_id)


def _stage_key(value: str) -> str:
    # Child ids replace these characters (keys.child_request_id): two ids differing only there would collide.
    return re.sub(r"[^A-Za-z0-9_-]", "-", value)


def child_wait_hours(signature_timeout_hours: float) -> float:
    """How long the parent waits for a partner's contract: the child's own signature deadline, plus a grace
    (a tenth, at most an hour) so the child's own expiry, with its own compensation, normally comes first."""
    return signature_timeout_hours + min(1.0, signature_timeout_hours / 10)
