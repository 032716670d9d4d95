"""ma_offer's business rules: an offer's basis, price and structure, revisions, where answers lead."""

from __future__ import annotations

from datetime import date

import pytest

from workflows.ma_offer.domain import (
    DdValuation,
    NoOfferBasis,
    OfferBasis,
    ReviewerChange,
    TargetResponse,
    choose_basis,
    countered_offer,
    offer_letter_pdf,
    price_offer,
    regulator_next_step,
    review_outcome,
    reviews_next_step,
    revise_offer,
    target_next_step,
    target_response,
    withdrawal_notice,
    within_mandate,
)

DAY = date(2026, 12, 1)


def room(wf: str, status: str, base: float = 60e6, adjusted: float = 54e6, pct: float = -10.0) -> DdValuation:
    return DdValuation(
        workflow_id=wf,
        status=status,
        base_valuation_usd=base,
        adjusted_valuation_usd=adjusted,
        total_adjustment_pct=pct,
    )


def offer(basis: OfferBasis, premium: float = 0.0):  # type: ignore[no-untyped-def]
    return price_offer(
        basis,
        premium_pct=premium,
        deal_id="D-1",
        target_company="Nimbus",
        acquirer="EP Holdings",
        issued_on=DAY,
    )


# ----------------------------------------------------------------------------- basis
def test_the_ic_approved_room_is_the_basis_before_a_newer_one_under_review() -> None:
    basis = choose_basis([room("dd:new", "in_review"), room("dd:ic", "closing", adjusted=50e6)], None, "D-1")
    assert (basis.source, basis.dd_workflow_id, basis.valuation_usd) == ("dd_room", "dd:ic", 50e6)


def test_the_newest_standing_room_when_none_is_ic_approved() -> None:
    basis = choose_basis([room("dd:new", "in_review"), room("dd:old", "open")], 1.0, "D-1")
    assert basis.dd_workflow_id == "dd:new"


def test_archived_rooms_are_no_basis_and_refuse_the_offer() -> None:
    assert (
        choose_basis([room("dd:a", "archived"), room("dd:b", "closing")], None, "D-1").dd_workflow_id
        == "dd:b"
    )
    with pytest.raises(NoOfferBasis, match="archived"):
        choose_basis([room("dd:a", "archived")], 40e6, "D-1")


def test_without_dd_the_base_valuation_is_required() -> None:
    assert choose_basis([], 40e6, "D-1") == OfferBasis(
        source="params",
        valuation_usd=40e6,
        explanation="no DD room for deal D-1: base valuation USD 40,000,000",
    )
    with pytest.raises(NoOfferBasis, match="base_valuation_usd is required"):
        choose_basis([], None, "D-1")


# ----------------------------------------------------------------------------- price and structure
@pytest.mark.parametrize(
    ("pct", "escrow_pct", "earn_out"),
    [(-2.0, 10.0, 0), (-7.5, 15.0, 0), (-10.0, 20.0, 3_000_000), (-25.0, 20.0, 7_500_000)],
)
def test_escrow_and_earn_out_follow_the_dd_cut(pct: float, escrow_pct: float, earn_out: int) -> None:
    adjusted = 60e6 * (1 + pct / 100)
    terms = offer(choose_basis([room("dd:1", "closing", adjusted=adjusted, pct=pct)], None, "D-1"))
    assert terms.price_usd == int(adjusted // 100_000 * 100_000)
    assert (terms.escrow_pct, terms.earn_out_usd) == (escrow_pct, earn_out)
    assert terms.escrow_usd == round(terms.price_usd * escrow_pct / 100)
    assert terms.cash_at_close_usd + terms.escrow_usd == terms.price_usd


def test_no_dd_means_unknown_risk_15_percent_escrow_no_earn_out() -> None:
    terms = offer(choose_basis([], 43_456_789, "D-1"), premium=10)
    assert terms.price_usd == 47_800_000  # 47,802,467 rounded down to USD 100,000
    assert (terms.escrow_pct, terms.earn_out_usd, terms.version) == (15.0, 0, 1)
    assert "10% premium" in terms.basis


def test_the_signed_terms_leave_out_dates_and_history() -> None:
    terms = offer(choose_basis([], 40e6, "D-1"))
    assert {"basis", "changes", "issued_on"}.isdisjoint(terms.terms)
    later = terms.model_copy(update={"issued_on": date(2027, 1, 1), "changes": ("x",)})
    assert later.terms_sha256 == terms.terms_sha256


def test_revisions_take_the_buyers_safer_value_and_add_the_written_changes() -> None:
    v1 = offer(choose_basis([], 50e6, "D-1"))
    v2 = revise_offer(
        v1,
        [
            ReviewerChange(
                reviewer="counsel", summary="MAC", changes=("MAC clause",), escrow_pct=20, price_usd=49e6
            ),
            ReviewerChange(
                reviewer="advisor", changes=("Lower the price",), price_usd=47_000_000, escrow_pct=18
            ),
        ],
        issued_on=DAY,
    )
    assert (v2.version, v2.price_usd, v2.escrow_pct) == (2, 47_000_000, 20)
    assert v2.escrow_usd == 9_400_000 and v2.cash_at_close_usd == 37_600_000
    assert v2.conditions[-2:] == ("MAC clause", "Lower the price")
    assert v2.changes == ("counsel: MAC", "advisor: Lower the price")
    assert revise_offer(
        v2, [ReviewerChange(reviewer="counsel", changes=("MAC clause",))], issued_on=DAY
    ).conditions == (v2.conditions)


def test_a_counter_moves_the_price_and_keeps_the_escrow_share() -> None:
    v1 = offer(choose_basis([], 50e6, "D-1"))
    v2 = countered_offer(v1, 55_000_000, "growth", issued_on=DAY)
    assert (v2.version, v2.price_usd, v2.escrow_pct, v2.escrow_usd) == (2, 55_000_000, 15.0, 8_250_000)
    assert v2.changes == ("target countered at USD 55,000,000: growth",)


def test_the_offer_letter_is_deterministic() -> None:
    terms = offer(choose_basis([], 50e6, "D-1"))
    assert offer_letter_pdf(terms) == offer_letter_pdf(terms)
    assert offer_letter_pdf(terms) != offer_letter_pdf(countered_offer(terms, 51e6, "", issued_on=DAY))


def test_the_withdrawal_notice_leaves_the_reason_to_the_undo() -> None:
    notice = withdrawal_notice("Nimbus", "Dana", "EP Holdings")
    assert notice.subject == "Withdrawal of our offer for Nimbus" and "Reason: {reason}" in notice.body


# ----------------------------------------------------------------------------- reviews
def answer(event_type: str, **payload: object) -> dict:
    return {
        "status": "received",
        "event": {"event_id": "e1", "event_type": event_type, "payload": {"payload": payload}},
    }


def test_review_outcomes_read_the_firms_answer() -> None:
    changes = review_outcome(
        "advisor",
        answer("review.changes_requested", summary="s", changes=["a", " "], details={"price_usd": 1}),
    )
    assert (changes.status, changes.changes, changes.details, changes.event_id) == (
        "changes_requested",
        ("a",),
        {"price_usd": 1},
        "e1",
    )
    assert review_outcome("counsel", {"status": "expired"}).status == "timed_out"
    assert review_outcome("counsel", answer("review.opinion_issued", details="junk")).details == {}


@pytest.mark.parametrize(
    ("statuses", "round_no", "expected"),
    [
        (("opinion_issued", "opinion_issued"), 1, "board_approval"),
        (("opinion_issued", "changes_requested"), 1, "next_round"),
        (("changes_requested", "changes_requested"), 3, "rounds_exhausted"),
        (("changes_requested", "timed_out"), 1, "expired"),
    ],
)
def test_where_the_reviews_lead(statuses: tuple[str, str], round_no: int, expected: str) -> None:
    outcomes = [
        review_outcome("counsel", {"status": "expired"}).model_copy(update={"status": s}) for s in statuses
    ]
    assert reviews_next_step(outcomes, round_no, 3) == expected


def test_where_the_regulator_leads() -> None:
    assert [regulator_next_step(s) for s in ("cleared", "cleared_with_conditions", "refused", None)] == [
        "target_response",
        "conditions_review",
        "refused",
        "expired",
    ]


# ----------------------------------------------------------------------------- target
def test_target_answers_are_read_and_a_bad_one_is_a_rejection() -> None:
    assert target_response({"status": "expired"}) is None
    assert target_response(answer("offer.countered", price_usd=55_000_000, note="n")) == TargetResponse(
        kind="counter", price_usd=55_000_000, note="n"
    )
    bad = target_response(answer("offer.countered", note="no price"))
    assert bad is not None and bad.kind == "reject" and bad.note.startswith("unreadable answer")


def test_the_mandate_is_the_board_price_plus_the_threshold() -> None:
    assert within_mandate(50_000_000, 52_500_000, 5) and not within_mandate(50_000_000, 52_500_001, 5)
    assert within_mandate(50_000_000, 40_000_000, 0)


@pytest.mark.parametrize(
    ("response", "round_no", "expected"),
    [
        (TargetResponse(kind="accept"), 1, "signing"),
        (TargetResponse(kind="reject"), 1, "rejected"),
        (None, 2, "expired"),
        (TargetResponse(kind="counter", price_usd=52_000_000), 3, "signing"),
        (TargetResponse(kind="counter", price_usd=53_000_000), 2, "board_approval"),
        (TargetResponse(kind="counter", price_usd=53_000_000), 3, "rounds_exhausted"),
    ],
)
def test_where_the_target_leads(response: TargetResponse | None, round_no: int, expected: str) -> None:
    step = target_next_step(
        response, board_price_usd=50_000_000, threshold_pct=5, round_no=round_no, max_rounds=3
    )
    assert step == expected
