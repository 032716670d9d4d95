"""M&A offer: price and structure, the negotiation's rules, the offer letter and messages. No Airflow.

API:
    choose_basis(rooms: [DdValuation], base_valuation_usd, deal_id) -> OfferBasis   raises NoOfferBasis
    price_offer(basis, *, premium_pct, deal_id, target_company, acquirer, issued_on) -> OfferTerms (v1)
    revise_offer(terms, [ReviewerChange], *, issued_on) -> OfferTerms (next version)
    countered_offer(terms, counter_price_usd, note, *, issued_on) -> OfferTerms (next version)
    OfferTerms.terms (what is signed), .terms_sha256
    review_outcome(reviewer, wait_outcome) -> ReviewOutcome; reviews_next_step(outcomes, round, max)
    regulator_next_step(decision | None)
    target_response(wait_outcome) -> TargetResponse | None; target_next_step(response, *, board_price_usd,
        threshold_pct, round_no, max_rounds); within_mandate(board_price, counter_price, threshold_pct)
    offer_letter_pdf(terms) -> bytes; offer_message, withdrawal_notice, response_request, closing_notice
"""

from __future__ import annotations

from workflows.ma_offer.domain.documents import (
    closing_notice,
    offer_letter_pdf,
    offer_message,
    response_request,
    withdrawal_notice,
)
from workflows.ma_offer.domain.negotiation import (
    ReviewOutcome,
    TargetResponse,
    regulator_next_step,
    review_outcome,
    reviews_next_step,
    target_next_step,
    target_response,
    within_mandate,
)
from workflows.ma_offer.domain.pricing import (
    DdValuation,
    NoOfferBasis,
    OfferBasis,
    OfferTerms,
    ReviewerChange,
    choose_basis,
    countered_offer,
    price_offer,
    revise_offer,
)

__all__ = [
    "DdValuation",
    "NoOfferBasis",
    "OfferBasis",
    "OfferTerms",
    "ReviewOutcome",
    "ReviewerChange",
    "TargetResponse",
    "choose_basis",
    "closing_notice",
    "countered_offer",
    "offer_letter_pdf",
    "offer_message",
    "price_offer",
    "regulator_next_step",
    "response_request",
    "review_outcome",
    "reviews_next_step",
    "revise_offer",
    "target_next_step",
    "target_response",
    "withdrawal_notice",
    "within_mandate",
]
