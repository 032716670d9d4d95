"""The DAGs a CRM webhook may start, and the run params (``conf``) each one receives.

This is the param contract between the CRM and the DAGs: ``POST /webhooks/crm/events`` validates the
event's ``payload`` with the DAG's model below and starts the run with
``conf = model.model_dump(mode="json")``.
Each DAG declares the same fields as its ``params``; a field added here must be added there (and the
other way round), or the ingress refuses events the DAG would accept.

Pure pydantic (no Airflow import): DAG files may import these models to build their ``params``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator

_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"


def _no_double_dot(value: str) -> str:
    # Ids end up in Airflow run ids, which refuse ".." (path traversal guard in create_dagrun).
    if ".." in value:
        raise ValueError("must not contain '..'")
    return value


Identifier = Annotated[str, Field(pattern=_ID_PATTERN), AfterValidator(_no_double_dot)]
"""1-128 of ``[A-Za-z0-9._:-]``, no ``..``: safe inside run ids, correlation keys and log lines."""

DAG_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
DagId = Annotated[str, Field(pattern=DAG_ID_PATTERN), AfterValidator(_no_double_dot)]
"""The durable DAGs' id params (``execution_plane.saga.keys.ID_PATTERN``, kept equal by a test): 1-64 of
``[A-Za-z0-9._-]``, no ``:`` (the request id becomes ``<dag_id>:<id>``, which saga_compensation accepts)."""

Name = Annotated[str, Field(min_length=1, max_length=200)]


class StartParams(BaseModel):
    """What every startable DAG receives; subclasses add the DAG's own fields."""

    # Unknown fields are refused: a typo in a CRM mapping must fail loudly, not start a run without it.
    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: Identifier
    """The CRM's id of the request; with the workflow it forms the inbox correlation key."""


class PartnerApprovalParams(StartParams):
    """``partner_approval``: score a partner, negotiate terms, get them approved and activated.

    Field for field the params of dags/workflows/partner_approval/dag.py.
    """

    request_id: DagId
    partner_id: DagId
    requested_by: str = Field(default="crm", max_length=120)
    """Who asked for the approval in the CRM (user name or email)."""
    max_negotiation_rounds: int = Field(default=3, ge=1, le=3)
    approval_timeout_hours: float = Field(default=72, gt=0, le=24 * 30)
    """Each approval expires (rejected path) after this."""
    partner_response_timeout_hours: float = Field(default=168, gt=0, le=24 * 60)


class DdRoomParams(StartParams):
    """``dd_room``: open a due-diligence room, analyse it, value the target, brief the IC.

    Field for field the params of dags/workflows/dd_room/dag.py.
    """

    request_id: DagId
    """The DAG's (and saga_compensation's workflow id's) narrower id: no ':', at most 64 characters."""
    deal_id: DagId
    target_company: Name
    target_contact_email: EmailStr = Field(max_length=320)
    """The target's DD contact: told when the DD starts and, if it is terminated, that it ended."""
    base_valuation_usd: float = Field(gt=0)
    approval_timeout_hours: float = Field(default=168, gt=0, le=24 * 30)
    """The IC review expires (rejected path) after this."""
    signoff_timeout_hours: float = Field(default=336, gt=0, le=24 * 60)
    """Each workstream lead's sign-off expires after this."""


class SignatureCommitmentParams(StartParams):
    """``signature_commitment``: send approved terms for e-signature and commit them once signed."""

    request_id: DagId
    deal_id: DagId
    partner_id: DagId
    terms: dict[str, Any] = Field(min_length=1)
    """The approved terms, exactly as approved: the approval token is bound to their hash."""
    approval_token: str = Field(min_length=1, max_length=4096)
    signer_email: EmailStr
    signer_name: Name
    signature_timeout_hours: float = Field(default=168, gt=0, le=24 * 30)
    """Not signed by then: the envelope is voided and the re-negotiate choice offered."""
    renegotiation_timeout_hours: float = Field(default=72, gt=0, le=24 * 30)
    """No answer to the re-negotiate choice by then: the deal is closed."""


class PmiProgramParams(StartParams):
    """``pmi_program``: integrate a closed deal's company, from Day 1 through the Day-90 review.

    Field for field the params of dags/workflows/pmi_program/dag.py.
    """

    request_id: DagId
    deal_id: DagId
    """The CRM deal; it must have closed (closed_won / closed) or the run stops before anything happens."""
    target_company: Name
    target_company_id: DagId
    """The acquired company's id in the HRIS, ERP, legal registry and CRM."""
    acquirer_company_id: DagId = "EP-GROUP"
    acquirer_domain: str = Field(default="execution-plane.example", pattern=r"^[a-z0-9.-]{3,200}$")
    day_seconds: float = Field(default=86_400, gt=0, le=86_400)
    """Length of one program day in seconds (tests shrink it)."""
    day30_days: int = Field(default=30, ge=1, le=365)
    day60_days: int = Field(default=60, ge=1, le=365)
    day90_days: int = Field(default=90, ge=1, le=365)
    readiness_timeout_hours: float = Field(default=168, gt=0, le=24 * 30)
    decision_timeout_hours: float = Field(default=72, gt=0, le=24 * 30)
    review_timeout_hours: float = Field(default=336, gt=0, le=24 * 60)


class LeadQualificationParams(StartParams):
    """``lead_qualification``: new leads enriched, scored, routed to an owner and handed over.

    The CRM's ``lead.created`` subscription sends one lead (``lead_ids: ["<lead id>"]``). Field for field the
    params of dags/workflows/lead_qualification/dag.py.
    """

    request_id: DagId
    lead_ids: list[DagId] = Field(min_length=1, max_length=50)
    """The CRM ids of the new leads, each once."""
    enrichment_cache_hours: float = Field(default=168, gt=0, le=720)
    rate_limit_wait_s: float = Field(default=30, ge=0, le=300)

    @field_validator("lead_ids")
    @classmethod
    def _each_lead_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each lead id once")
        return value


Channel = Literal["whatsapp", "email", "sms"]
CHANNELS: tuple[Channel, ...] = ("whatsapp", "email", "sms")
HHMM = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$"
HHMM_END = HHMM + r"|^24:00$"
CALCOM_USERNAME = r"^[a-z0-9][a-z0-9._-]{0,63}$"
PHONE = r"^$|^\+(?:[1-9][0-9]{6,14})$"
TIME_ZONE = r"^(?:UTC|[A-Z][A-Za-z_]+(?:/[A-Za-z0-9_+-]+)+)$"


class OutreachSequenceParams(StartParams):
    """``outreach_sequence``: a CRM contact enrolled in a multi-channel sequence until they reply.

    Field for field the params of dags/workflows/outreach_sequence/dag.py.
    """

    request_id: DagId
    contact_id: DagId
    """The CRM contact to write to (addresses, country, time zone, language and consent come from the CRM)."""
    campaign: Literal["partnership_intro", "product_demo"] = "partnership_intro"
    channels: list[Channel] = Field(default_factory=lambda: list(CHANNELS), min_length=1, max_length=3)
    """Channels the sequence may use, in fallback order; each once."""
    max_messages: int = Field(default=3, ge=1, le=5)
    follow_up_after_hours: float = Field(default=72, gt=0, le=24 * 14)
    reply_window_hours: float = Field(default=120, gt=0, le=24 * 30)
    send_window_start: str = Field(default="09:00", pattern=HHMM)
    send_window_end: str = Field(default="18:00", pattern=HHMM_END, validate_default=True)
    """The contact's local hours messages may go out in (end exclusive; 24:00 is the end of the day)."""
    meeting_response_timeout_hours: float = Field(default=48, gt=0, le=24 * 14)
    meeting_timeout_hours: float = Field(default=168, gt=0, le=24 * 30)

    @field_validator("channels")
    @classmethod
    def _each_channel_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each channel once")
        return value

    @field_validator("send_window_end")
    @classmethod
    def _window_ends_after_it_starts(cls, value: str, info: ValidationInfo) -> str:
        start = info.data.get("send_window_start")
        if start is not None and value != "24:00" and value <= start:
            raise ValueError(f"must be after send_window_start ({start})")
        return value


class MeetingBookingParams(StartParams):
    """``meeting_booking``: times proposed from the organizer's Cal.com calendar, agreed by message, booked.

    Field for field the params of dags/workflows/meeting_booking/dag.py.
    """

    request_id: DagId
    organizer: str = Field(pattern=CALCOM_USERNAME)
    """The host's Cal.com username."""
    organizer_email: EmailStr = Field(max_length=254)
    organizer_name: Name = "Execution Plane"
    attendee_name: Name
    attendee_email: EmailStr = Field(max_length=254)
    attendee_time_zone: str = Field(default="UTC", pattern=TIME_ZONE)
    attendee_language: Literal["en", "ar"] = "en"
    channel: Channel = "email"
    attendee_phone: str = Field(default="", pattern=PHONE, validate_default=True)
    """E.164, required to negotiate on WhatsApp or SMS (empty: none)."""
    title: Name = "Introduction call"
    options_per_round: int = Field(default=3, ge=1, le=5)
    max_rounds: int = Field(default=3, ge=1, le=3)
    horizon_days: int = Field(default=10, ge=1, le=31)
    earliest_notice_hours: float = Field(default=12, ge=0, le=24 * 7)
    response_timeout_hours: float = Field(default=48, gt=0, le=24 * 14)

    @field_validator("attendee_time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("attendee_phone")
    @classmethod
    def _phone_for_whatsapp_and_sms(cls, value: str, info: ValidationInfo) -> str:
        channel = info.data.get("channel")
        if channel in ("whatsapp", "sms") and not value:
            raise ValueError(f"required to negotiate on {channel}")
        return value


PromotionMethod = Literal[
    "content", "social", "email", "paid_search", "coupons", "cashback", "review_site", "influencer"
]


def _content_only() -> list[PromotionMethod]:
    return ["content"]


class AffiliateOnboardingParams(StartParams):
    """``affiliate_onboarding``: an affiliate's application evaluated, decided, provisioned and welcomed.

    Field for field the params of dags/workflows/affiliate_onboarding/dag.py. What a schema cannot say (the
    website is a web address, ``auto_reject_score`` below ``auto_approve_score``) the run's first step
    refuses, naming the field, before anything is recorded.
    """

    request_id: DagId
    """The application's id (e.g. the signup form's submission id)."""
    applicant_name: Name
    email: EmailStr = Field(max_length=254)
    company: str = Field(default="", max_length=200)
    website: str = Field(default="", max_length=300)
    country: str = Field(default="", pattern=r"^$|^[A-Z]{2}$")
    promotion_methods: list[PromotionMethod] = Field(
        default_factory=_content_only, min_length=1, max_length=8
    )
    monthly_visitors: int = Field(default=0, ge=0, le=1_000_000_000)
    audience_description: str = Field(default="", max_length=2000)
    payout_method: Literal["bank_transfer", "paypal"] = "bank_transfer"
    payout_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    auto_approve_score: int = Field(default=70, ge=1, le=100)
    auto_reject_score: int = Field(default=35, ge=0, le=99)
    approval_timeout_hours: float = Field(default=48, gt=0, le=24 * 30)
    payout_verification_timeout_hours: float = Field(default=168, gt=0, le=24 * 30)

    @field_validator("promotion_methods")
    @classmethod
    def _each_method_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each method once")
        return value


STARTABLE_WORKFLOWS: dict[str, type[StartParams]] = {
    "partner_approval": PartnerApprovalParams,
    "dd_room": DdRoomParams,
    "signature_commitment": SignatureCommitmentParams,
    "pmi_program": PmiProgramParams,
    "lead_qualification": LeadQualificationParams,
    "outreach_sequence": OutreachSequenceParams,
    "meeting_booking": MeetingBookingParams,
    "affiliate_onboarding": AffiliateOnboardingParams,
}
"""dag_id -> model of that DAG's run params. Only these DAGs can be started from outside."""
