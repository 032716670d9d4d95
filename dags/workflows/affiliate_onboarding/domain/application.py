"""The application an affiliate sends (the signup form, the CRM's webhook, the trigger form): checked beyond
what the DAG's params schema can say, each refusal naming its field."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PromotionMethod = Literal[
    "content", "social", "email", "paid_search", "coupons", "cashback", "review_site", "influencer"
]
PROMOTION_METHODS: tuple[str, ...] = PromotionMethod.__args__  # type: ignore[attr-defined]
PayoutMethod = Literal["bank_transfer", "paypal"]
PAYOUT_METHODS: tuple[str, ...] = PayoutMethod.__args__  # type: ignore[attr-defined]

_EMAIL = re.compile(r"^[^@\s]+@([^@\s]+\.[^@\s]+)$")
_HOST = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class BadApplication(ValueError):
    """An application refused before anything is recorded; the message starts with the field's name."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class Application(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    application_id: str = Field(min_length=1, max_length=128)
    applicant_name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=254)
    company: str = Field(default="", max_length=200)
    website: str = Field(default="", max_length=300)
    country: str = Field(default="", pattern=r"^$|^[A-Z]{2}$")
    promotion_methods: tuple[PromotionMethod, ...] = Field(min_length=1, max_length=len(PROMOTION_METHODS))
    monthly_visitors: int = Field(default=0, ge=0, le=1_000_000_000)
    audience_description: str = Field(default="", max_length=2000)
    payout_method: PayoutMethod = "bank_transfer"
    payout_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    auto_approve_score: int = Field(default=70, ge=1, le=100)
    auto_reject_score: int = Field(default=35, ge=0, le=99)

    @field_validator("applicant_name", "company", "audience_description")
    @classmethod
    def _stripped(cls, value: str) -> str:
        return value.strip()

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip().lower()
        match = _EMAIL.fullmatch(value)
        if match is None or not _HOST.fullmatch(match.group(1)):
            raise ValueError("not an email address with a valid domain")
        return value

    @field_validator("website")
    @classmethod
    def _website(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return ""
        parts = urlsplit(value if "://" in value else f"https://{value}")
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not _HOST.fullmatch(host):
            raise ValueError("not a web address (https://example.com)")
        return f"{parts.scheme}://{host}{parts.path or ''}".rstrip("/")

    @field_validator("promotion_methods")
    @classmethod
    def _each_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("each method once")
        return value

    @model_validator(mode="after")
    def _thresholds(self) -> Application:
        if self.auto_reject_score >= self.auto_approve_score:
            raise BadApplication(
                "auto_reject_score", f"must be below auto_approve_score ({self.auto_approve_score})"
            )
        return self

    @property
    def email_domain(self) -> str:
        return self.email.rsplit("@", 1)[1]

    @property
    def website_domain(self) -> str | None:
        return urlsplit(self.website).hostname if self.website else None

    @property
    def affiliate_id(self) -> str:
        """The applicant's id across applications (the trust score's subject): from the email, so a second
        application by the same person meets the history of the first."""
        return "AFF-" + hashlib.sha256(self.email.encode()).hexdigest()[:16]

    @property
    def display_name(self) -> str:
        return f"{self.applicant_name} ({self.company})" if self.company else self.applicant_name


def parse_application(params: Mapping[str, Any]) -> Application:
    """The run's params as an ``Application`` (``request_id`` is the application id); raises
    ``BadApplication`` naming the first field that is wrong."""
    data = {**params, "application_id": params.get("request_id")}
    try:
        return Application.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        context = error.get("ctx") or {}
        if isinstance(context.get("error"), BadApplication):
            raise context["error"] from None
        field = ".".join(str(part) for part in error["loc"]) or "application"
        message = str(error["msg"]).removeprefix("Value error, ")
        if field == "application_id":
            field = "request_id"
        raise BadApplication(field, message) from None
