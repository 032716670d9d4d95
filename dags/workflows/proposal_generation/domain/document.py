"""The proposal as a PDF: summary, pricing, terms and sources, in English, Arabic or both (English first).

Deterministic (``include.domain.documents``): the same deal, draft, quote and date give the same bytes, so
the document is stored once by its hash, whatever the retries. Arabic is shaped right to left with the
bundled Unicode font.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from include.domain.documents import Section, Table, render_pdf
from workflows.proposal_generation.domain.cpq import Quote
from workflows.proposal_generation.domain.draft import Context, Deal, Language

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Proposal for {name}",
        "summary": "Summary",
        "pricing": "Pricing",
        "list_total": "List total",
        "tiers": "Volume tiers",
        "bundle": "Bundle: {name}",
        "subtotal": "Subtotal",
        "extra": "Additional discount ({pct} %)",
        "total": "Total ({pct} % off list)",
        "terms": "Terms",
        "validity": "Prices in {currency}, excluding taxes, from price book {book}. Valid until {until}.",
        "approved": "The discount was approved by the deal desk ({by}).",
        "sources": "Sources",
        "no_sources": "Drafted from the deal alone: {reason}.",
    },
    "ar": {
        "title": "عرض مقدم إلى {name}",
        "summary": "الملخص",
        "pricing": "الأسعار",
        "list_total": "إجمالي سعر القائمة",
        "tiers": "خصومات الكمية",
        "bundle": "الباقة: {name}",
        "subtotal": "المجموع الفرعي",
        "extra": "خصم إضافي ({pct} %)",
        "total": "الإجمالي ({pct} % من سعر القائمة)",
        "terms": "الشروط",
        "validity": (
            "الأسعار بعملة {currency} غير شاملة الضرائب، من قائمة الأسعار {book}. العرض صالح حتى {until}."
        ),
        "approved": "وافق مكتب الصفقات على الخصم ({by}).",
        "sources": "المصادر",
        "no_sources": "كتبت المسودة من بيانات الصفقة فقط: {reason}.",
    },
}

_HEADER = {
    "en": ["Product", "Quantity", "Unit", "List price", "Volume tier", "Bundle", "Amount"],
    "ar": ["المنتج", "الكمية", "الوحدة", "سعر القائمة", "خصم الكمية", "الباقة", "المبلغ"],
}


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _pct(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _sections(
    language: Language,
    *,
    deal: Deal,
    summary: str,
    quote: Quote,
    context: Context,
    valid_until: date,
    approved_by: str | None,
) -> tuple[str, list[Section]]:
    w = _WORDS[language]
    cur = quote.currency
    rows = [
        [
            line.name_ar if language == "ar" else line.name,
            str(line.quantity),
            line.unit_ar if language == "ar" else line.unit,
            money(line.list_unit_price, cur),
            f"-{_pct(line.tier_pct)} %" if line.tier_pct else "",
            f"-{_pct(line.bundle_pct)} %" if line.bundle_pct else "",
            money(line.net_amount, cur),
        ]
        for line in quote.lines
    ]
    totals = [[w["list_total"], money(quote.list_total, cur)]]
    if quote.tier_savings:
        totals.append([w["tiers"], "-" + money(quote.tier_savings, cur)])
    if quote.bundle:
        name = quote.bundle.name_ar if language == "ar" else quote.bundle.name
        totals.append([w["bundle"].format(name=name), "-" + money(quote.bundle_savings, cur)])
    totals.append([w["subtotal"], money(quote.subtotal, cur)])
    if quote.requested_discount_pct:
        label = w["extra"].format(pct=_pct(quote.requested_discount_pct))
        totals.append([label, "-" + money(quote.requested_savings, cur)])
    totals.append([w["total"].format(pct=_pct(quote.total_discount_pct)), money(quote.net_total, cur)])
    terms = [w["validity"].format(currency=cur, book=quote.price_book_version, until=valid_until.isoformat())]
    if approved_by:
        terms.append(w["approved"].format(by=approved_by))
    if context.passages:
        sources = [f"[{n}] {p.title} ({p.section or p.kind})" for n, p in enumerate(context.passages, 1)]
    else:
        sources = [w["no_sources"].format(reason=context.reason or context.status)]
    sections = [
        Section(heading=w["summary"], paragraphs=[p for p in summary.split("\n") if p.strip()]),
        Section(
            heading=w["pricing"],
            tables=[
                Table(header=_HEADER[language], rows=rows, col_widths=[3, 1.2, 1.6, 1.8, 1.3, 1.1, 2]),
                Table(rows=totals, col_widths=[3, 1.5]),
            ],
        ),
        Section(heading=w["terms"], paragraphs=terms),
        Section(heading=w["sources"], paragraphs=sources),
    ]
    return w["title"].format(name=deal.name), sections


def proposal_pdf(
    *,
    deal: Deal,
    languages: Sequence[Language],
    summaries: dict[str, str],
    quote: Quote,
    context: Context,
    issued_on: date,
    valid_until: date,
    approved_by: str | None,
) -> bytes:
    """The proposal in ``languages`` (one after the other, each complete), dated ``issued_on``."""
    titles: list[str] = []
    sections: list[Section] = []
    for language in languages:
        title, own = _sections(
            language,
            deal=deal,
            summary=summaries[language],
            quote=quote,
            context=context,
            valid_until=valid_until,
            approved_by=approved_by,
        )
        titles.append(title)
        if sections:
            sections.append(Section(heading=title))
        sections += own
    return render_pdf(
        titles[0],
        sections,
        metadata={
            "created_at": issued_on.isoformat(),
            "author": "Execution Plane",
            "subject": f"Proposal, deal {deal.deal_id}",
            "lang": languages[0],
        },
    )
