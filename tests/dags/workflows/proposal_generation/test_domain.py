"""proposal_generation's rules below the DAG: CPQ (volume tiers, the best bundle, the rep's discount and the
approval threshold, pegged currencies, the rules a product list must follow), the draft's prompt and
context, the PDF (deterministic, Arabic shaped) and the messages."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from workflows.proposal_generation.common import SKUS
from workflows.proposal_generation.domain import (
    PRODUCTS,
    Context,
    Deal,
    InvalidQuote,
    Item,
    approval_request,
    context_from_hits,
    discount_not_approved,
    draft_prompt,
    price,
    proposal_pdf,
    proposal_ready,
    search_query,
)

DEAL = Deal(deal_id="D-1", name="Lumen partnership", stage="proposal", owner_email="owner1@crm.example")
LAUNCH = [
    Item(sku="EP-PLATFORM", quantity=300),
    Item(sku="EP-ANALYTICS", quantity=300),
    Item(sku="EP-ONBOARDING", quantity=1),
]


def test_the_dag_offers_the_price_books_products() -> None:
    assert tuple(PRODUCTS) == SKUS


def test_tiers_bundle_and_requested_discount_in_that_order() -> None:
    quote = price(LAUNCH, requested_discount_pct=12, currency="USD")
    by_sku = {line.sku: line for line in quote.lines}
    # 300 seats: the 250+ tier (-15 %); the Launch bundle (-8 %) on all three lines; then 12 % more.
    assert (by_sku["EP-PLATFORM"].tier_pct, by_sku["EP-PLATFORM"].bundle_pct) == (Decimal(15), Decimal(8))
    assert by_sku["EP-PLATFORM"].net_amount == Decimal("281520.00")  # 360,000 x 0.85 x 0.92
    assert by_sku["EP-ONBOARDING"].tier_pct == 0 and by_sku["EP-ONBOARDING"].net_amount == Decimal("7820.00")
    assert quote.list_total == Decimal("458500.00") and quote.subtotal == Decimal("359720.00")
    assert quote.tier_savings == Decimal("67500.00") and quote.bundle_savings == Decimal("31280.00")
    assert quote.net_total == Decimal("316553.60") and quote.total_discount_pct == Decimal("30.96")
    assert quote.bundle is not None and quote.bundle.key == "launch"
    assert quote.approval_reasons == [
        "requested discount 12 % is above the rep's 10 %",
        "total discount 30.96 % off list is above 30 %",
    ]


@pytest.mark.parametrize(
    ("seats", "tier"), [(1, 0), (49, 0), (50, 8), (249, 8), (250, 15), (999, 15), (1000, 22), (5000, 22)]
)
def test_volume_tiers_apply_to_all_units(seats: int, tier: int) -> None:
    (line,) = price([Item(sku="EP-PLATFORM", quantity=seats)], requested_discount_pct=0, currency="USD").lines
    assert line.tier_pct == tier
    assert line.net_amount == (Decimal(1200) * seats * (100 - tier) / 100).quantize(Decimal("0.01"))


def test_the_bundle_that_saves_most_applies_alone() -> None:
    suite_only = [
        Item(sku="EP-PLATFORM", quantity=10),
        Item(sku="EP-WORKFLOWS", quantity=10),
        Item(sku="EP-ARABIC", quantity=10),
    ]
    quote = price(suite_only, requested_discount_pct=0, currency="USD")
    assert quote.bundle is not None and quote.bundle.key == "suite"
    assert {line.bundle_pct for line in quote.lines} == {Decimal(5)}
    both = [*LAUNCH, Item(sku="EP-WORKFLOWS", quantity=300)]
    # Launch saves 8 % of 390,320; Suite 5 % of 444,720 (platform and two add-ons): Launch wins.
    best = price(both, requested_discount_pct=0, currency="USD")
    assert best.bundle is not None and best.bundle.key == "launch"
    assert {line.sku for line in best.lines if line.bundle_pct} == {
        "EP-PLATFORM",
        "EP-ANALYTICS",
        "EP-ONBOARDING",
    }
    alone = price([Item(sku="EP-PLATFORM", quantity=10)], requested_discount_pct=0, currency="USD")
    assert alone.bundle is None and alone.bundle_savings == 0


def test_within_the_reps_authority_needs_no_approval() -> None:
    small = price([Item(sku="EP-PLATFORM", quantity=10)], requested_discount_pct=10, currency="USD")
    assert (small.needs_approval, small.total_discount_pct) == (False, Decimal("10.00"))
    # 1,000 seats: -22 % by volume, then 10 %: 29.80 % off list, within the 30 % a rep may give.
    deep = price([Item(sku="EP-PLATFORM", quantity=1000)], requested_discount_pct=10, currency="USD")
    assert (deep.total_discount_pct, deep.needs_approval) == (Decimal("29.80"), False)
    deeper = price([Item(sku="EP-PLATFORM", quantity=1000)], requested_discount_pct=10.5, currency="USD")
    assert deeper.total_discount_pct == Decimal("30.19")
    assert deeper.approval_reasons == [
        "requested discount 10.5 % is above the rep's 10 %",
        "total discount 30.19 % off list is above 30 %",
    ]


def test_pegged_currencies_round_each_unit_price_to_the_cent() -> None:
    aed = price(
        [Item(sku="EP-ARABIC", quantity=1), Item(sku="EP-PLATFORM", quantity=1)],
        requested_discount_pct=0,
        currency="AED",
    )
    assert [line.list_unit_price for line in aed.lines] == [Decimal("440.70"), Decimal("4407.00")]
    sar = price([Item(sku="EP-PLATFORM", quantity=3)], requested_discount_pct=0, currency="SAR")
    assert sar.net_total == Decimal("13500.00") and sar.currency == "SAR"


@pytest.mark.parametrize(
    ("items", "field", "message"),
    [
        (
            [Item(sku="EP-ANALYTICS", quantity=5)],
            "items[0].sku",
            "is an add-on: the proposal needs EP-PLATFORM",
        ),
        (
            [Item(sku="EP-PLATFORM", quantity=5), Item(sku="EP-ARABIC", quantity=6)],
            "items[1].quantity",
            "6 seats of EP-ARABIC but 5 platform seats",
        ),
        (
            [Item(sku="EP-PLATFORM", quantity=5), Item(sku="EP-PLATFORM", quantity=2)],
            "items[1].sku",
            "already items[0]",
        ),
        (
            [Item(sku="EP-SUPPORT-PREMIUM", quantity=6)],
            "items[0].quantity",
            "at most 5 of EP-SUPPORT-PREMIUM",
        ),
        ([Item(sku="EP-GOLD", quantity=1)], "items[0].sku", "not in price book pb-2026.1"),
    ],
)
def test_product_lists_the_rules_refuse_name_the_field(items: list[Item], field: str, message: str) -> None:
    with pytest.raises(InvalidQuote, match=re.escape(message)) as refused:
        price(items, requested_discount_pct=0, currency="USD")
    assert refused.value.field == field and str(refused.value).startswith(f"{field}: ")


def test_the_draft_reads_the_deal_and_the_numbered_sources() -> None:
    hits = [
        {
            "document_id": f"pb-{n}",
            "title": f"Playbook {n}",
            "kind": "playbook",
            "section": "Discounts",
            "text": "x" * 900,
            "source_uri": None,
            "char_start": 0,
            "char_end": 900,
        }
        for n in range(5)
    ]
    context = context_from_hits(hits)
    assert (
        context.status == "retrieved" and len(context.passages) == 3 and len(context.passages[0].text) == 400
    )
    prompt = draft_prompt(DEAL, LAUNCH, context, "en")
    assert "Lumen partnership" in prompt and "- Execution Plane platform: 300 (seat / year)" in prompt
    assert "[1] Playbook 0, Discounts: " in prompt and "[3] Playbook 2" in prompt and "[4]" not in prompt
    arabic = draft_prompt(DEAL, LAUNCH, Context(status="unavailable", reason="503"), "ar")
    assert "منصة Execution Plane: 300" in arabic and "لا توجد مصادر سابقة" in arabic
    assert context_from_hits([]).status == "empty"
    assert search_query(DEAL, LAUNCH)["kinds"] == ["playbook", "term_sheet", "memo"]


def pdf(languages: list[str], context: Context, approved_by: str | None = None) -> bytes:
    quote = price(LAUNCH, requested_discount_pct=12, currency="SAR")
    return proposal_pdf(
        deal=DEAL,
        languages=languages,  # type: ignore[arg-type]
        summaries={
            "en": "Lumen moves its partner onboarding to one platform.",
            "ar": "ملخص العرض لشركة لومن",
        },
        quote=quote,
        context=context,
        issued_on=date(2026, 12, 5),
        valid_until=date(2027, 1, 4),
        approved_by=approved_by,
    )


def test_the_pdf_is_the_same_bytes_for_the_same_proposal_and_embeds_the_arabic_font() -> None:
    context = Context(status="unavailable", reason="knowledge_store_unavailable: no pgvector")
    first = pdf(["en", "ar"], context, "deal_desk")
    assert first.startswith(b"%PDF") and first == pdf(["en", "ar"], context, "deal_desk")
    assert b"DejaVu" in first
    assert pdf(["en"], context, "deal_desk") != first
    assert pdf(["en", "ar"], context, None) != first


def test_what_the_deal_desk_and_the_owner_read() -> None:
    quote = price(LAUNCH, requested_discount_pct=12, currency="USD")
    request = approval_request(DEAL, quote)
    assert "List 458,500.00 USD -> proposed 316,553.60 USD: 30.96 % off list." in request
    assert "requested discount 12 % is above the rep's 10 %" in request and "Launch bundle" in request
    context = Context(status="unavailable", reason="knowledge_store_unavailable: no pgvector")
    ready = proposal_ready(
        DEAL, quote, uri="docstore://objects/ab", context=context, approved_by="deal_desk", languages="en+ar"
    )
    assert ready.subject == "Proposal ready: Lumen partnership (316,553.60 USD)"
    assert (
        "approved by the deal desk (deal_desk)" in ready.body and "drafted from the deal alone" in ready.body
    )
    refused = discount_not_approved(
        DEAL, quote, status="rejected", decided_by="deal_desk", comment="too deep"
    )
    assert (
        refused.subject == "Proposal discount rejected: Lumen partnership"
        and "Deal desk: too deep" in refused.body
    )
    lapsed = discount_not_approved(DEAL, quote, status="expired", decided_by=None, comment=None)
    assert "not decided (nobody in time)" in lapsed.body
