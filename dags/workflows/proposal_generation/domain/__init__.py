"""proposal_generation's business rules: the price book, CPQ, the draft's prompt and context, the PDF and
the messages. Pure Python and pydantic: no Airflow, no toolkit, no database or HTTP client."""

from __future__ import annotations

from workflows.proposal_generation.domain.cpq import InvalidQuote, Item, Quote, QuoteLine, check_items, price
from workflows.proposal_generation.domain.document import money, proposal_pdf
from workflows.proposal_generation.domain.draft import (
    LANGUAGES,
    SYSTEM_PROMPT,
    Context,
    Deal,
    Language,
    Passage,
    context_from_hits,
    draft_prompt,
    search_query,
)
from workflows.proposal_generation.domain.messages import (
    approval_request,
    discount_not_approved,
    proposal_ready,
)
from workflows.proposal_generation.domain.pricebook import PRICE_BOOK_VERSION, PRODUCTS, SKUS

__all__ = [
    "LANGUAGES",
    "PRICE_BOOK_VERSION",
    "PRODUCTS",
    "SKUS",
    "SYSTEM_PROMPT",
    "Context",
    "Deal",
    "InvalidQuote",
    "Item",
    "Language",
    "Passage",
    "Quote",
    "QuoteLine",
    "approval_request",
    "check_items",
    "context_from_hits",
    "discount_not_approved",
    "draft_prompt",
    "money",
    "price",
    "proposal_pdf",
    "proposal_ready",
    "search_query",
]
