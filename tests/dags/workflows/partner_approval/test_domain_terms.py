from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from include.domain.common import canonical_json, sha256_hex
from workflows.partner_approval.domain import (
    BAND_TERMS,
    CounterProposal,
    FitScore,
    PartnerProfile,
    TermSheet,
    draft_term_sheet,
    fit_score,
    term_sheet_pdf,
    terms_hash,
)

ISSUED = date(2025, 2, 3)


def profile(**over: Any) -> PartnerProfile:
    base: dict[str, Any] = {
        "partner_id": "P-7",
        "name": "Omar",
        "company": "شركة الخليج للحلول",
        "country": "SA",
        "industry": "software",
        "annual_revenue_usd": 12_000_000,
        "employees": 80,
        "years_in_business": 7,
        "existing_customers": 150,
        "compliance_flags": [],
    }
    base.update(over)
    return PartnerProfile.model_validate(base)


def draft(
    p: PartnerProfile | None = None,
    fit: FitScore | None = None,
    cp: CounterProposal | None = None,
    revision: int = 1,
) -> TermSheet:
    p = p or profile()
    return draft_term_sheet(p, fit or fit_score(p), revision=revision, counter_proposal=cp, issued_on=ISSUED)


def with_band(band: str) -> tuple[PartnerProfile, FitScore]:
    p = profile()
    return p, fit_score(p).model_copy(update={"band": band})


@pytest.mark.parametrize("band", ["strong", "moderate", "weak"])
def test_defaults_follow_band(band: str) -> None:
    p, fit = with_band(band)
    t = draft(p, fit).terms
    bt = BAND_TERMS[band]
    assert t["revenue_share_pct"] == bt.revenue_share_pct
    assert t["term_months"] == bt.term_months
    assert t["exclusivity"] is bt.exclusivity
    assert t["territory"] == ["SA"]
    assert (t["minimum_annual_commitment_usd"] > 0) is bt.exclusivity


def test_term_sheet_fields_and_validity() -> None:
    ts = draft()
    assert ts.band == "strong" and ts.revision == 1
    assert ts.valid_until == date(2025, 2, 17)
    assert ts.terms["valid_until"] == "2025-02-17"
    assert ts.terms_sha256 == terms_hash(ts.terms)
    assert ts.adjustments == []
    assert [s.heading for s in ts.sections] == ["Parties", "Commercial terms", "Fit assessment", "Validity"]


def test_commitment_is_bounded() -> None:
    assert draft(profile(annual_revenue_usd=10e9)).terms["minimum_annual_commitment_usd"] == 500_000
    small = profile(annual_revenue_usd=100_000)
    fit = fit_score(small).model_copy(update={"band": "strong"})
    assert draft(small, fit).terms["minimum_annual_commitment_usd"] == 10_000


def test_counter_revenue_share_capped_at_band_cap() -> None:
    ts = draft(cp=CounterProposal(revenue_share_pct=45))
    assert ts.terms["revenue_share_pct"] == BAND_TERMS["strong"].share_cap
    assert ts.adjustments == ["revenue share: requested 45%, granted 30% (strong band bounds 20-30%)"]


def test_counter_within_bounds_is_granted() -> None:
    ts = draft(cp=CounterProposal(revenue_share_pct=27.5, term_months=48))
    assert ts.terms["revenue_share_pct"] == 27.5
    assert ts.terms["term_months"] == 48


def test_counter_below_floor_is_raised_to_floor() -> None:
    p, fit = with_band("moderate")
    ts = draft(p, fit, CounterProposal(revenue_share_pct=5, term_months=1))
    assert ts.terms["revenue_share_pct"] == 15
    assert ts.terms["term_months"] == 12


def test_exclusivity_only_for_strong() -> None:
    p, fit = with_band("moderate")
    ts = draft(p, fit, CounterProposal(exclusivity=True))
    assert ts.terms["exclusivity"] is False
    assert "refused" in ts.adjustments[0]
    waived = draft(cp=CounterProposal(exclusivity=False))
    assert waived.terms["exclusivity"] is False
    assert waived.terms["minimum_annual_commitment_usd"] == 0


def test_territory_limited_per_band() -> None:
    ts = draft(cp=CounterProposal(territory=["Qatar", "AE", "KW", "SA"]))
    assert ts.terms["territory"] == ["SA", "AE", "KW"]
    assert any("refused QA" in a for a in ts.adjustments)
    p, fit = with_band("weak")
    assert draft(p, fit, CounterProposal(territory=["AE"])).terms["territory"] == ["SA"]


def test_counter_changes_hash_and_adds_section() -> None:
    base = draft()
    countered = draft(cp=CounterProposal(revenue_share_pct=28, note="Need more margin"), revision=2)
    assert countered.terms_sha256 != base.terms_sha256
    adj = next(s for s in countered.sections if s.heading == "Negotiation adjustments")
    assert adj.paragraphs[0] == "Partner note: Need more margin"


def test_revision_must_be_positive() -> None:
    with pytest.raises(ValueError):
        draft(revision=0)


def test_counter_proposal_validation() -> None:
    with pytest.raises(ValidationError):
        CounterProposal(revenue_share_pct=0)
    with pytest.raises(ValidationError):
        CounterProposal(term_months=-3)
    assert CounterProposal().is_empty()


def test_terms_hash_is_canonical() -> None:
    terms = {"b": 1, "a": [1, 2]}
    assert terms_hash(terms) == terms_hash({"a": [1, 2], "b": 1}) == sha256_hex(canonical_json(terms))
    assert re.fullmatch(r"[0-9a-f]{64}", terms_hash(terms))


def test_term_sheet_pdf_deterministic_and_sensitive() -> None:
    a = term_sheet_pdf(draft())
    assert a.startswith(b"%PDF-") and a == term_sheet_pdf(draft())
    assert b"/CreationDate (D:20250203000000Z)" in a
    assert term_sheet_pdf(draft(cp=CounterProposal(revenue_share_pct=26))) != a


def test_term_sheet_round_trips_through_json() -> None:
    ts = draft(cp=CounterProposal(territory=["AE"]))
    assert TermSheet.model_validate_json(ts.model_dump_json()) == ts
