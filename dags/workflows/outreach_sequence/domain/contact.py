"""The person a sequence writes to, as the CRM holds them, and the channels that may reach them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["whatsapp", "email", "sms"]
CHANNELS: tuple[str, ...] = ("whatsapp", "email", "sms")
#: The dialect an Arabic speaker of a country writes when nothing they wrote tells otherwise.
DIALECT_BY_COUNTRY = {
    **dict.fromkeys(("SA", "AE", "KW", "QA", "BH", "OM"), "gulf"),
    "EG": "egyptian",
    "SD": "egyptian",
    **dict.fromkeys(("JO", "LB", "SY", "PS"), "levantine"),
    **dict.fromkeys(("MA", "DZ", "TN", "LY", "MR"), "maghrebi"),
    "IQ": "iraqi",
}
DIALECTS = ("gulf", "egyptian", "levantine", "maghrebi", "iraqi", "msa")


class Contact(BaseModel):
    """A CRM contact (fields the sequence uses; the CRM may hold more)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    contact_id: str
    first_name: str = Field(min_length=1)
    last_name: str = ""
    company: str = ""
    email: str | None = None
    whatsapp: str | None = None
    phone: str | None = None
    country: str = Field(pattern=r"^[A-Z]{2}$")
    time_zone: str = Field(min_length=1)
    language: str = "en"
    preferred_channel: str | None = None
    last_message: str = ""
    consent: dict[str, bool] = Field(default_factory=dict)
    owner_name: str = ""
    owner_email: str | None = None
    owner_calendar: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def writes_arabic(self) -> bool:
        return self.language == "ar"

    def address(self, channel: str) -> str | None:
        """Where ``channel`` reaches the contact (None: no address on that channel)."""
        return {"email": self.email, "whatsapp": self.whatsapp, "sms": self.phone}[channel] or None


def channel_plan(contact: Contact, allowed: list[str] | tuple[str, ...]) -> list[str]:
    """The channels to try, in order: the contact's preferred one first when allowed, then ``allowed`` in its
    order; only channels the contact has an address on."""
    ordered = [c for c in allowed if c == contact.preferred_channel] + [
        c for c in allowed if c != contact.preferred_channel
    ]
    return [c for c in ordered if contact.address(c)]


def consented(contact: Contact, plan: list[str]) -> list[str]:
    """The channels of ``plan`` the contact consented to (a channel never asked about is not consented)."""
    return [c for c in plan if contact.consent.get(c) is True]


def choose_dialect(country: str, detected: str | None) -> str:
    """The dialect to write an Arabic speaker in: what their own writing shows, else their country's, else
    Modern Standard Arabic."""
    if detected in DIALECTS:
        return str(detected)
    return DIALECT_BY_COUNTRY.get(country.upper(), "msa")
