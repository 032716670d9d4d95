# ruff: noqa: RUF001  (the documents are in Arabic, with Arabic digits)
"""contradiction_scan's rules, pure: each fact read from English and Arabic text (Arabic digits, Arabic and
Levantine month names), each deterministic check, the model's answer read and grounded, a pair's findings
merged, the request refused naming the field, and the keys that make comparisons and scans reusable."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal

import pytest

from tests.dags.workflows.contradiction_scan.deal_documents import (
    CLEAN_SIGNED_TERMS,
    CLEAN_TERM_SHEET,
    DD_FINDINGS,
    IC_MEMO,
    SIGNED_TERMS_AR,
    TERM_SHEET,
)
from workflows.contradiction_scan.domain import (
    Document,
    ModelAnswerError,
    PairResult,
    ScanError,
    compare_facts,
    comparison_key,
    conflicts,
    crm_document,
    document_facts,
    fingerprint,
    merged,
    owner_message,
    pairs,
    parse_request,
    read_answer,
    record_document,
    scan_id,
    text_document,
)
from workflows.contradiction_scan.domain.facts import Money, amounts, dates, exclusivity, parties, territory


def doc(kind: str, text: str) -> Document:
    found = text_document(kind=kind, title=kind, source="test", data=text.encode())
    assert isinstance(found, Document)
    return found


def topics(a: str, b: str) -> dict[str, str]:
    return {f.topic: f.detail for f in compare_facts(document_facts(a), document_facts(b))}


# ----------------------------------------------------------------------------- facts
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Purchase price: USD 12,500,000 on a cash-free, debt-free basis", Money("USD", Decimal(12_500_000))),
        ("The purchase price shall be $12.5m", Money("USD", Decimal(12_500_000))),
        ("سعر الشراء: ١١٫٨ مليون دولار أمريكي", Money("USD", Decimal(11_800_000))),
        ("الثمن: ٤٥٬٠٠٠٬٠٠٠ ريال سعودي", Money("SAR", Decimal(45_000_000))),
        ("Consideration: 45 million Saudi riyals", Money("SAR", Decimal(45_000_000))),
        ("Deal value: AED 3.2bn", Money("AED", Decimal(3_200_000_000))),
    ],
)
def test_amounts_in_english_and_arabic(line: str, expected: Money) -> None:
    assert amounts(line) == [expected]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Closing date: 31 March 2027", date(2027, 3, 31)),
        ("Completion: March 31st, 2027", date(2027, 3, 31)),
        ("Completion date: 15/09/2027", date(2027, 9, 15)),  # day first
        ("closing on 2027-03-31", date(2027, 3, 31)),
        ("تاريخ الإغلاق: ٣١ مارس ٢٠٢٧", date(2027, 3, 31)),
        ("الإغلاق في ٣١ آذار ٢٠٢٧م", date(2027, 3, 31)),
        ("الإغلاق في ١ كانون الثاني ٢٠٢٨", date(2028, 1, 1)),
    ],
)
def test_dates_in_english_and_arabic(line: str, expected: date) -> None:
    assert dates(line) == [expected]


def test_an_impossible_date_is_no_date() -> None:
    assert dates("Closing date: 31/02/2027") == []


def test_parties_labelled_or_defined_and_their_names_compared_without_legal_form() -> None:
    defined = parties('made between Gulf Ventures LLC (the "Buyer") and Najd Holding Company (the “Seller”).')
    assert [(p.role, p.name) for p in defined] == [
        ("buyer", "Gulf Ventures LLC"),
        ("seller", "Najd Holding Company"),
    ]
    (labelled,) = parties("Buyer: GULF VENTURES L.L.C.")
    assert labelled.key == defined[0].key == "gulf ventures"
    (arabic,) = parties("المشتري: شركة الخليج للاستثمار ش.م.م")
    assert (arabic.role, arabic.script, arabic.key) == ("buyer", "arabic", "الخليج للاستثمار")


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        (
            "Exclusivity: the Seller grants the Buyer an exclusivity period of 60 days",
            "exclusive for 60 days",
        ),
        ("Exclusivity: 3 months from signature", "exclusive for 3 months"),
        ("حصرية لمدة ٩٠ يوماً من تاريخ التوقيع", "exclusive for 90 days"),
        ("The distribution arrangement is non-exclusive.", "non-exclusive"),
        ("الاتفاقية غير حصرية", "non-exclusive"),
    ],
)
def test_exclusivity(line: str, shown: str) -> None:
    assert str(exclusivity(line)) == shown


@pytest.mark.parametrize(
    ("line", "codes"),
    [
        ("Territory: Saudi Arabia, United Arab Emirates", {"SA", "AE"}),
        ("Territory: the GCC except Oman", {"SA", "AE", "QA", "KW", "BH"}),
        ("الإقليم: المملكة العربية السعودية والإمارات وقطر", {"SA", "AE", "QA"}),
    ],
)
def test_territory(line: str, codes: set[str]) -> None:
    assert territory(line) == frozenset(codes)


def test_a_figure_on_a_line_not_about_the_price_is_no_price() -> None:
    assert [f.topic for f in document_facts(DD_FINDINGS)] == []


# ----------------------------------------------------------------------------- the checks
def test_the_signed_arabic_terms_against_the_term_sheet() -> None:
    found = topics(TERM_SHEET, SIGNED_TERMS_AR)
    assert found == {
        "price": "price: USD 12,500,000 in one, USD 11,800,000 in the other",
        "exclusivity": "exclusivity: exclusive for 60 days in one, exclusive for 90 days in the other",
        "territory": "territory: only in the other: QA",
    }  # the closing date agrees (Arabic digits and month); the buyer is named in two scripts: not compared


def test_one_matching_figure_is_agreement_and_one_date_apart_is_a_conflict() -> None:
    assert topics(TERM_SHEET, IC_MEMO) == {}  # the memo also holds the term sheet's price
    crm = crm_document("D-1", {"closing_date": "2027-04-30", "amount_usd": 12_500_000, "currency": "USD"})
    assert topics(IC_MEMO, crm.text) == {
        "closing_date": "closing date: 2027-03-31 in one, 2027-04-30 in the other"
    }


def test_different_parties_in_the_same_role() -> None:
    found = topics("Buyer: Gulf Ventures LLC", 'Desert Capital Ltd (the "Buyer") signs this letter.')
    assert found == {"party:buyer": "buyer: 'Gulf Ventures LLC' in one, 'Desert Capital Ltd' in the other"}


def test_amounts_in_different_currencies_are_not_compared() -> None:
    assert topics("Purchase price: USD 12,000,000", "سعر الشراء: ٤٥ مليون ريال سعودي") == {}


def test_exclusive_against_non_exclusive_but_an_unstated_period_agrees() -> None:
    assert "exclusivity" in topics("Exclusivity: 60 days", "This arrangement is non-exclusive.")
    assert topics("Exclusivity: 60 days", "The Buyer has exclusivity.") == {}


def test_a_deal_whose_documents_agree_has_no_conflict() -> None:
    crm = crm_document(
        "D-2", {"amount": "SAR 45,000,000", "closing_date": "2027-09-15", "territory": ["Saudi Arabia"]}
    )
    for a, b in [
        (CLEAN_TERM_SHEET, CLEAN_SIGNED_TERMS),
        (CLEAN_TERM_SHEET, crm.text),
        (CLEAN_SIGNED_TERMS, crm.text),
    ]:
        assert topics(a, b) == {}


# ----------------------------------------------------------------------------- the model's answer
def test_the_answer_is_kept_where_its_quotes_are_found_and_relocated_to_their_line() -> None:
    a, b = doc("term_sheet", TERM_SHEET), doc("ic_memo", IC_MEMO)
    answer = {
        "conflicts": [
            {
                "topic": "Governing law",
                "a_line": 2,  # the wrong line: the quote is on line 11
                "a_quote": "the laws of the Dubai International Financial Centre",
                "b_line": 2,
                "b_quote": "Recommendation: proceed",
                "explanation": "made up",
            },
            {
                "topic": "x",
                "a_line": 1,
                "a_quote": "words nowhere in A",
                "b_line": 1,
                "b_quote": "INVESTMENT",
            },
        ]
    }
    (finding,), ungrounded = read_answer(json.dumps(answer), a, b)
    assert (finding.a.line, finding.b.line, finding.source, ungrounded) == (11, 2, "model", 1)
    with pytest.raises(ModelAnswerError):
        read_answer("Summary: the documents agree", a, b)
    with pytest.raises(ModelAnswerError):
        read_answer('{"conflicts": "none"}', a, b)


def test_a_conflict_found_by_both_is_reported_once_and_the_owner_message_quotes_both_sides() -> None:
    a = doc("term_sheet", TERM_SHEET)
    crm = crm_document(
        "D-1", {"closing_date": "2027-04-30", "governing_law": "English law", "owner_email": "o@x"}
    )
    rules = compare_facts(document_facts(a.text), document_facts(crm.text))
    model, _ = read_answer(
        json.dumps(
            {
                "conflicts": [
                    {"topic": "closing date", "a_line": 7, "a_quote": "Closing date: 31 March 2027",
                     "b_line": 2, "b_quote": "Closing date: 2027-04-30", "explanation": "dates differ"},
                    {"topic": "governing law", "a_line": 11, "a_quote": "Governing law: the laws of the",
                     "b_line": 4, "b_quote": "Governing law: English law", "explanation": "DIFC or English"},
                ]
            }
        ),
        a,
        crm,
    )  # fmt: skip
    result = PairResult(tuple(rules), tuple(model))
    assert [(f.topic, by) for f, by in merged(result)] == [
        ("closing_date", ("rules", "model")),
        ("governing law", ("model",)),
    ]
    assert PairResult.from_json(json.loads(json.dumps(result.as_json()))) == result
    found = conflicts([(a, crm, result)])
    assert [c["conflict_id"] for c in found] == ["C1", "C2"]
    message = owner_message("D-1", "D-1.abc", found, 2)
    assert message.subject == "Deal D-1: 2 contradictions between its documents"
    assert 'line 7: "Closing date: 31 March 2027"' in message.body and "English law" in message.body


# ----------------------------------------------------------------------------- documents, keys, request
def test_a_pdf_or_binary_document_is_left_out_with_the_reason() -> None:
    assert (
        text_document(kind="ic_memo", title="m", source="s", data=b"%PDF-1.7 ...")
        == "a PDF (the scan reads text documents)"
    )
    assert text_document(kind="ic_memo", title="m", source="s", data=b"\xff\xfe\x00") == "not UTF-8 text"


def test_pairs_are_in_content_hash_order_and_keys_do_not_depend_on_order() -> None:
    docs = [doc("term_sheet", TERM_SHEET), doc("ic_memo", IC_MEMO), doc("dd_findings", DD_FINDINGS)]
    found = pairs([*docs, docs[0]])  # the same content twice is one document
    assert len(found) == 3 and all(a.sha256 < b.sha256 for a, b in found)
    a, b = docs[0].sha256, docs[1].sha256
    assert comparison_key(a, b, "m", "r") == comparison_key(b, a, "m", "r") != comparison_key(a, b, "m2", "r")
    assert fingerprint(docs, "m", "r") == fingerprint(list(reversed(docs)), "m", "r")
    assert scan_id("D-1", "ab" * 32) == "D-1." + "ab" * 6
    assert scan_id("D" * 60, "ab" * 32).startswith("scan-")
    assert (
        crm_document("D-1", {"amount_usd": 5_000, "currency": "USD"}).sha256
        == hashlib.sha256(b"CRM record of deal D-1\nDeal amount: USD 5,000\n").hexdigest()
    )


def test_a_business_record_is_written_out_as_a_document_its_facts_can_be_read_from() -> None:
    from decimal import Decimal as D

    terms = {
        "price_usd": 11_800_000,
        "exclusivity_days": 90,
        "escrow": {"amount_usd": D("1180000.00"), "months": 12},
        "territory": ["Saudi Arabia", "United Arab Emirates", "Qatar"],
        "closing_date": "2027-03-31",
    }
    record = record_document(kind="signed_terms", title="Signed terms of w", source="table://x", fields=terms)

    assert record.text.splitlines() == [
        "Signed terms of w",
        "Closing date: 2027-03-31",
        "Escrow amount: USD 1,180,000",
        "Escrow months: 12",
        "Exclusivity: 90 days",
        "Price: USD 11,800,000",
        "Territory: Saudi Arabia, United Arab Emirates, Qatar",
    ]
    assert topics(TERM_SHEET, record.text) == {
        "price": "price: USD 12,500,000 in one, USD 11,800,000 in the other",
        "exclusivity": "exclusivity: exclusive for 60 days in one, exclusive for 90 days in the other",
        "territory": "territory: only in the other: QA",
    }  # the escrow's amount is no price


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"deal_id": "D..1"}, "deal_id"),
        ({"deal_id": "D-1", "document_kinds": ["term_sheet", "memo"]}, "document_kinds.1"),
        ({"deal_id": "D-1", "document_kinds": ["term_sheet", "term_sheet"]}, "document_kinds"),
        ({"deal_id": "D-1", "max_documents": 1}, "max_documents"),
        ({}, "deal_id"),
    ],
)
def test_bad_input_names_the_field(params: dict[str, object], field: str) -> None:
    with pytest.raises(ScanError, match=rf"^{field}: "):
        parse_request(params)
