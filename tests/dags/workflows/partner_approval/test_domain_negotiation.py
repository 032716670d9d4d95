from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from workflows.partner_approval.domain import (
    PartnerProfile,
    PartnerResponse,
    activation_message,
    draft_term_sheet,
    fit_score,
    next_negotiation_step,
    rejection_message,
    terms_message,
)

PROFILE = PartnerProfile(
    partner_id="P-9",
    name="Lina",
    company="Gulf Apps",
    country="AE",
    industry="fintech",
    annual_revenue_usd=20_000_000,
    employees=120,
    years_in_business=12,
    existing_customers=600,
    compliance_flags=[],
)
SHEET = draft_term_sheet(
    PROFILE, fit_score(PROFILE), revision=1, counter_proposal=None, issued_on=date(2025, 5, 1)
)


def test_accept_goes_to_executive_approval() -> None:
    assert next_negotiation_step(PartnerResponse(kind="accept"), 1, 3) == "executive_approval"
    # Accepting in the last round is still an acceptance.
    assert next_negotiation_step(PartnerResponse(kind="accept"), 3, 3) == "executive_approval"


def test_decline_is_declined() -> None:
    assert next_negotiation_step(PartnerResponse(kind="decline", note="no"), 1, 3) == "declined"


def test_counter_returns_to_legal_review_until_rounds_exhausted() -> None:
    counter = PartnerResponse(kind="counter", revenue_share_pct=30)
    assert [next_negotiation_step(counter, r, 3) for r in (1, 2, 3, 4)] == [
        "legal_review",
        "legal_review",
        "rounds_exhausted",
        "rounds_exhausted",
    ]
    assert next_negotiation_step(counter, 1, 1) == "rounds_exhausted"


@pytest.mark.parametrize("round_no,max_rounds", [(0, 3), (1, 0), (-1, -1)])
def test_invalid_rounds(round_no: int, max_rounds: int) -> None:
    with pytest.raises(ValueError):
        next_negotiation_step(PartnerResponse(kind="accept"), round_no, max_rounds)


def test_counter_must_contest_something() -> None:
    with pytest.raises(ValidationError):
        PartnerResponse(kind="counter", note="hmm")
    with pytest.raises(ValidationError):
        PartnerResponse.model_validate({"kind": "maybe"})


def test_counter_proposal_from_response_feeds_next_revision() -> None:
    response = PartnerResponse(kind="counter", revenue_share_pct=99, territory=["KW"], note="bigger")
    cp = response.counter_proposal()
    ts = draft_term_sheet(
        PROFILE, fit_score(PROFILE), revision=2, counter_proposal=cp, issued_on=date(2025, 5, 8)
    )
    assert ts.terms["revenue_share_pct"] == 30
    assert ts.terms["territory"] == ["AE", "KW"]


def test_terms_message() -> None:
    msg = terms_message(PROFILE, SHEET)
    assert msg.subject == "Partnership terms for Gulf Apps (revision 1)"
    assert "Dear Lina" in msg.body and "2025-05-15" in msg.body
    assert SHEET.terms_sha256[:16] in msg.body
    assert "Minimum annual commitment" in msg.body


def test_rejection_message_withdraws_terms_only_after_they_were_sent() -> None:
    early = rejection_message(PROFILE, "manager_approval", "Outside current focus")
    assert "partnership manager review" in early.body and "withdrawn" not in early.body
    assert "Reason: Outside current focus" in early.body
    late = rejection_message(PROFILE, "executive_approval", "")
    assert "withdrawn" in late.body and "Reason" not in late.body
    assert "custom stage" in rejection_message(PROFILE, "custom_stage", "x").body


def test_activation_message() -> None:
    msg = activation_message(PROFILE, SHEET, activated_on=date(2025, 6, 1))
    assert "Gulf Apps" in msg.subject
    assert "2025-06-01" in msg.body and "P-9" in msg.body


def test_messages_are_deterministic() -> None:
    assert terms_message(PROFILE, SHEET) == terms_message(PROFILE, SHEET)
