"""Partner Approval Flow (PRIORITY 1): scoring, term sheet, negotiation and partner messages.

API:
    PartnerProfile(partner_id, name, company, country, industry, annual_revenue_usd, employees,
                   years_in_business, existing_customers, compliance_flags: list[str], email, whatsapp)
        .model_validate(crm_record)  (extra CRM fields ignored); .country_code
    fit_score(profile) -> FitScore(score: int 0-100, band: "strong"|"moderate"|"weak", factors: list[Factor],
                                   version)
    Factor(name, weight: int, value: float 0..1, points: int, explanation: str)  (points sum to score)
    CounterProposal(revenue_share_pct?, term_months?, exclusivity?, territory?, note)
    draft_term_sheet(profile, fit, *, revision: int, counter_proposal: CounterProposal | None,
                     issued_on: date) -> TermSheet(terms: dict, terms_sha256, adjustments, sections, ...)
    term_sheet_pdf(term_sheet) -> bytes        (deterministic PDF via documents.render_pdf)
    terms_hash(terms: dict) -> str             (sha256 of canonical JSON)
    PartnerResponse(kind: "accept"|"counter"|"decline", revenue_share_pct?, term_months?, exclusivity?,
                    territory?, note).counter_proposal() -> CounterProposal
    next_negotiation_step(response, round_no: int, max_rounds: int)
        -> "executive_approval" | "legal_review" | "declined" | "rounds_exhausted"
    terms_message(profile, term_sheet) -> Message
    rejection_message(profile, stage: str, reason: str) -> Message   (withdraws sent terms when relevant)
    activation_message(profile, term_sheet, *, activated_on: date) -> Message

Scoring weights and band thresholds: see ``scoring``; term bounds per band: see ``term_sheet``.
"""

from __future__ import annotations

from include.domain.common import Message
from workflows.partner_approval.domain.messages import activation_message, rejection_message, terms_message
from workflows.partner_approval.domain.negotiation import (
    NegotiationStep,
    PartnerResponse,
    next_negotiation_step,
)
from workflows.partner_approval.domain.profile import PartnerProfile, country_code
from workflows.partner_approval.domain.scoring import (
    WEIGHTS,
    Band,
    Factor,
    FitScore,
    fit_score,
)
from workflows.partner_approval.domain.term_sheet import (
    BAND_TERMS,
    CounterProposal,
    TermSheet,
    draft_term_sheet,
    term_sheet_pdf,
    terms_hash,
)

__all__ = [
    "BAND_TERMS",
    "WEIGHTS",
    "Band",
    "CounterProposal",
    "Factor",
    "FitScore",
    "Message",
    "NegotiationStep",
    "PartnerProfile",
    "PartnerResponse",
    "TermSheet",
    "activation_message",
    "country_code",
    "draft_term_sheet",
    "fit_score",
    "next_negotiation_step",
    "rejection_message",
    "term_sheet_pdf",
    "terms_hash",
    "terms_message",
]
