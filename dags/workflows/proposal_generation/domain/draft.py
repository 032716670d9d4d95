"""What the LLM is asked for a proposal's summary, and the context it is given.

The context is what knowledge retrieval found in past proposals and playbooks (title, section, text and
where it comes from), or the reason there is none: a knowledge store that is unavailable (503: no pgvector
where it runs, or down) does not stop a proposal; the draft is written from the deal alone and says so, in
the proposal's sources and in the owner's notice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.proposal_generation.domain.cpq import Item
from workflows.proposal_generation.domain.pricebook import PRODUCTS

Language = Literal["en", "ar"]
LANGUAGES: dict[str, tuple[Language, ...]] = {"en": ("en",), "ar": ("ar",), "en+ar": ("en", "ar")}
CONTEXT_HITS = 3
PASSAGE_CHARS = 400
SEARCH_KINDS = ["playbook", "term_sheet", "memo"]

SYSTEM_PROMPT = (
    "You write the executive summary of a B2B sales proposal: three to five short paragraphs, factual, "
    "in the language asked for. Use only the deal's facts and the numbered sources; cite a source as [n]. "
    "Do not state prices: the pricing section is computed separately."
)


class Passage(BaseModel):
    model_config = ConfigDict(frozen=True)

    document_id: str
    title: str
    kind: str
    section: str
    text: str
    source_uri: str | None = None
    char_start: int
    char_end: int


class Context(BaseModel):
    """What the draft was written from besides the deal: passages, or why there are none."""

    model_config = ConfigDict(frozen=True)

    status: Literal["retrieved", "empty", "unavailable"]
    passages: list[Passage] = Field(default_factory=list)
    reason: str | None = None


class Deal(BaseModel):
    """The CRM's deal, as the proposal reads it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    deal_id: str
    name: str
    stage: str | None = None
    status: str | None = None
    amount_usd: float | None = None
    owner_email: str


def search_query(deal: Deal, items: Sequence[Item]) -> dict[str, Any]:
    """The retrieval request: proposals and playbooks about these products and this kind of deal."""
    products = ", ".join(PRODUCTS[item.sku].name for item in items)
    return {
        "query": f"proposal for {deal.name}: {products}; pricing, discount and onboarding playbook",
        "kinds": SEARCH_KINDS,
        "top_k": CONTEXT_HITS,
    }


def context_from_hits(hits: Sequence[dict[str, Any]]) -> Context:
    if not hits:
        return Context(status="empty", reason="no past proposal or playbook matched")
    passages = [
        Passage(
            document_id=hit["document_id"],
            title=hit["title"],
            kind=hit["kind"],
            section=hit["section"],
            text=hit["text"][:PASSAGE_CHARS],
            source_uri=hit.get("source_uri"),
            char_start=hit["char_start"],
            char_end=hit["char_end"],
        )
        for hit in hits[:CONTEXT_HITS]
    ]
    return Context(status="retrieved", passages=passages)


def _products(items: Sequence[Item], language: Language) -> list[str]:
    lines = []
    for item in items:
        product = PRODUCTS[item.sku]
        if language == "ar":
            lines.append(f"- {product.name_ar}: {item.quantity} ({product.unit_ar})")
        else:
            lines.append(f"- {product.name}: {item.quantity} ({product.unit})")
    return lines


def _sources(context: Context) -> list[str]:
    return [f"[{n}] {p.title}, {p.section or p.kind}: {p.text}" for n, p in enumerate(context.passages, 1)]


def draft_prompt(deal: Deal, items: Sequence[Item], context: Context, language: Language) -> str:
    """The user message for one language's summary: the deal's facts, the products, the sources."""
    if language == "ar":
        lines = [
            f"اكتب الملخص التنفيذي لعرض مبيعات إلى {deal.name}.",
            f"الصفقة: {deal.deal_id}، المرحلة: {deal.stage or 'غير محددة'}.",
            "المنتجات:",
            *_products(items, "ar"),
        ]
        if context.passages:
            lines += ["مصادر من عروض سابقة وأدلة البيع:", *_sources(context)]
        else:
            lines.append("لا توجد مصادر سابقة: اعتمد على بيانات الصفقة فقط.")
        return "\n".join(lines)
    lines = [
        f"Write the executive summary of a sales proposal to {deal.name}.",
        f"Deal: {deal.deal_id}, stage: {deal.stage or 'not set'}.",
        "Products:",
        *_products(items, "en"),
    ]
    if context.passages:
        lines += ["Sources from past proposals and playbooks:", *_sources(context)]
    else:
        lines.append("No past proposals are available: use the deal's facts only.")
    return "\n".join(lines)
