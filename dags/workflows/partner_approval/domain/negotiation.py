"""Partner negotiation: interpret a partner response and choose the next workflow step."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workflows.partner_approval.domain.term_sheet import CounterProposal

ResponseKind = Literal["accept", "counter", "decline"]
NegotiationStep = Literal["executive_approval", "legal_review", "declined", "rounds_exhausted"]


class PartnerResponse(BaseModel):
    """A partner's answer to a term sheet (from the CRM/webhook). Counter fields only for ``counter``."""

    model_config = ConfigDict(frozen=True)

    kind: ResponseKind
    revenue_share_pct: float | None = Field(default=None, gt=0, le=100)
    term_months: int | None = Field(default=None, gt=0)
    exclusivity: bool | None = None
    territory: list[str] | None = None
    note: str = ""

    @model_validator(mode="after")
    def _counter_has_content(self) -> PartnerResponse:
        # A "counter" that asks for nothing would loop through legal review for no reason.
        if self.kind == "counter" and self.counter_proposal().is_empty():
            raise ValueError("a counter response must contest at least one term")
        return self

    def counter_proposal(self) -> CounterProposal:
        return CounterProposal(
            revenue_share_pct=self.revenue_share_pct,
            term_months=self.term_months,
            exclusivity=self.exclusivity,
            territory=self.territory,
            note=self.note,
        )


def next_negotiation_step(response: PartnerResponse, round_no: int, max_rounds: int) -> NegotiationStep:
    """Next step after the partner's response in round ``round_no`` (1-based) of at most ``max_rounds``.

    accept -> executive_approval; decline -> declined; counter -> legal_review (a new revision is drafted
    and reviewed), unless this was the last allowed round -> rounds_exhausted (compensation path).
    """
    if max_rounds < 1:
        raise ValueError("max_rounds must be >= 1")
    if round_no < 1:
        raise ValueError("round_no is 1-based")
    if response.kind == "accept":
        return "executive_approval"
    if response.kind == "decline":
        return "declined"
    if round_no >= max_rounds:
        return "rounds_exhausted"
    return "legal_review"
