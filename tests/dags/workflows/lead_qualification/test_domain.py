"""lead_qualification's rules below the DAG: a lead's company domain, what enrichment adds to the scoring
input, segments, and routing by territory, segment, band and load."""

from __future__ import annotations

from typing import Any

import pytest

from workflows.lead_qualification.domain import (
    CrmLead,
    LeadToRoute,
    NoOwner,
    Owner,
    SourceGap,
    choose_owner,
    company_domain,
    crm_fields,
    enrichment_from,
    owner_digest,
    route_batch,
    scoring_input,
    segment_for,
)
from workflows.lead_qualification.domain.messages import RoutedLead


def owner(owner_id: str, **fields: Any) -> Owner:
    base: dict[str, Any] = {
        "owner_id": owner_id,
        "name": owner_id.title(),
        "email": f"{owner_id}@sales.example",
        "territories": ["DE"],
        "segments": ["smb", "mid_market", "enterprise"],
        "bands": ["hot", "warm"],
        "capacity": 10,
        "open_leads": 0,
    }
    return Owner.model_validate(base | fields)


TEAM = [
    owner("de-1", open_leads=5),
    owner("de-2", open_leads=3),
    owner("de-ent", segments=["enterprise"], open_leads=0),
    owner("overflow", territories=["*"], open_leads=1),
    owner("nurture", territories=["*"], bands=["cold"], capacity=500, open_leads=100),
]


# ----------------------------------------------------------------------------------------------- leads
def lead(**fields: Any) -> CrmLead:
    return CrmLead.model_validate({"lead_id": "L-1", "company_name": "Acme GmbH"} | fields)


def test_company_domain_comes_from_the_crm_or_a_business_email() -> None:
    assert company_domain(lead(company_domain="WWW.Acme.example")) == "acme.example"
    assert company_domain(lead(contact_email="ana@acme.example")) == "acme.example"
    assert company_domain(lead(contact_email="ana@gmail.com")) is None
    assert company_domain(lead()) is None


def test_the_crms_facts_win_and_enrichment_fills_the_gaps() -> None:
    enrichment = enrichment_from(
        "acme.example",
        {"company_id": "co_1", "industry": "logistics", "country": "FR", "employees": 420},
        {"years": [{"fiscal_year": 2024, "revenue_usd": 9e6}, {"fiscal_year": 2025, "revenue_usd": 1.1e7}]},
        [],
    )
    assert (enrichment.fiscal_year, enrichment.revenue_usd, enrichment.partial) == (2025, 1.1e7, False)
    filled = scoring_input(
        lead(country="DE", source="webinar", engagement={"replies": 2, "clicks": 9}), enrichment
    )
    assert (filled["company_size"], filled["industry"], filled["country"]) == (420, "logistics", "DE")
    # Values the scoring service does not know become its neutral ones; unknown counters are dropped.
    assert filled["source"] == "other"
    assert filled["engagement"] == {"emails_opened": 0, "replies": 2, "meetings": 0, "website_visits": 0}
    kept = scoring_input(lead(company_size=12, industry="fintech"), enrichment)
    assert (kept["company_size"], kept["industry"]) == (12, "fintech")


def test_gaps_say_why_and_survive_the_cache_as_text() -> None:
    gaps = [
        SourceGap(source="research", reason="rate limited beyond the 30 s waiting budget", transient=True),
        SourceGap(source="financials", reason="no company id from research", transient=True),
    ]
    partial = enrichment_from("acme.example", None, None, gaps)
    assert partial.partial and partial.transient_gaps
    assert partial.missing()[0] == "research: rate limited beyond the 30 s waiting budget (transient)"
    assert [SourceGap.from_text(text) for text in partial.missing()] == gaps
    known = SourceGap(source="research", reason="company not known to the provider", transient=False)
    assert SourceGap.from_text(known.as_text()) == known


# ----------------------------------------------------------------------------------------------- routing
@pytest.mark.parametrize(
    ("size", "segment"), [(None, "smb"), (99, "smb"), (100, "mid_market"), (1000, "enterprise")]
)
def test_segment_by_company_size(size: int | None, segment: str) -> None:
    assert segment_for(size) == segment


def test_the_least_loaded_owner_of_the_territory_takes_the_lead() -> None:
    decision = choose_owner(lead_id="L-1", country="DE", segment="smb", band="hot", owners=TEAM, assigned={})
    assert (decision.owner_id, decision.tier, decision.load_before, decision.over_capacity) == (
        "de-2",
        "territory",
        3,
        False,
    )
    assert "DE is in their territory" in decision.reason and "3 of 10 open leads" in decision.reason
    # Leads already routed in the batch count: de-2 at 3 + 3 is now busier than de-1 at 5.
    assert (
        choose_owner(
            lead_id="L-2", country="DE", segment="smb", band="hot", owners=TEAM, assigned={"de-2": 3}
        ).owner_id
        == "de-1"
    )


def test_segment_band_and_territory_narrow_the_pool() -> None:
    enterprise = choose_owner(
        lead_id="L", country="DE", segment="enterprise", band="warm", owners=TEAM, assigned={}
    )
    assert enterprise.owner_id == "de-ent"
    cold = choose_owner(lead_id="L", country="DE", segment="smb", band="cold", owners=TEAM, assigned={})
    assert (cold.owner_id, cold.tier) == ("nurture", "overflow")
    abroad = choose_owner(lead_id="L", country="JP", segment="smb", band="hot", owners=TEAM, assigned={})
    assert (abroad.owner_id, abroad.tier) == ("overflow", "overflow")
    unknown = choose_owner(lead_id="L", country=None, segment="smb", band="hot", owners=TEAM, assigned={})
    assert unknown.owner_id == "overflow"


def test_a_full_territory_spills_to_overflow_and_a_full_team_still_takes_the_lead() -> None:
    full = {"de-1": 5, "de-2": 7, "de-ent": 10}
    spilled = choose_owner(lead_id="L", country="DE", segment="smb", band="hot", owners=TEAM, assigned=full)
    assert (spilled.owner_id, spilled.tier) == ("overflow", "overflow")
    everyone = {**full, "overflow": 9}
    squeezed = choose_owner(
        lead_id="L", country="DE", segment="smb", band="hot", owners=TEAM, assigned=everyone
    )
    assert (squeezed.tier, squeezed.over_capacity) == ("territory", True)
    assert squeezed.owner_id == "de-1" and "over capacity" in squeezed.reason


def test_nobody_taking_the_band_is_an_error_of_the_team() -> None:
    with pytest.raises(NoOwner, match="no active owner takes cold leads"):
        choose_owner(lead_id="L", country="DE", segment="smb", band="cold", owners=TEAM[:4], assigned={})
    inactive = [o.model_copy(update={"active": False}) for o in TEAM]
    with pytest.raises(NoOwner):
        choose_owner(lead_id="L", country="DE", segment="smb", band="hot", owners=inactive, assigned={})


def test_a_batch_is_routed_hottest_first_each_decision_counting() -> None:
    batch = [
        LeadToRoute(
            lead_id=f"L-{n}",
            country="DE",
            company_size=20,
            score=score,
            band="hot" if score >= 70 else "warm",
        )
        for n, score in enumerate((45, 90, 75, 60))
    ]
    decisions = route_batch(batch, TEAM)
    assert [d.lead_id for d in decisions] == ["L-1", "L-2", "L-3", "L-0"]
    assert [d.owner_id for d in decisions] == ["de-2", "de-2", "de-1", "de-2"]
    assert [d.load_before for d in decisions] == [3, 4, 5, 5]
    assert route_batch(list(reversed(batch)), TEAM) == decisions


def test_what_the_crm_and_the_owner_are_told() -> None:
    enrichment = enrichment_from(
        "acme.example",
        {"company_id": "co_1", "industry": "logistics", "employees": 420},
        None,
        [SourceGap(source="financials", reason="provider answered HTTP 503", transient=True)],
    )
    decision = choose_owner(
        lead_id="L-1", country="DE", segment="mid_market", band="hot", owners=TEAM, assigned={}
    )
    fields = crm_fields(decision, score=81, degraded=False, enrichment=enrichment)
    assert fields["score"] == 81 and fields["segment"] == "mid_market"
    assert fields["enrichment_missing"] == ["financials: provider answered HTTP 503 (transient)"]
    routed = RoutedLead(
        lead_id="L-1",
        company_name="Acme GmbH",
        contact_name="Ana",
        contact_email="ana@acme.example",
        score=81,
        band="hot",
        degraded=True,
        reason=decision.reason,
        enrichment=enrichment,
    )
    one = owner_digest("De-2", [routed])
    assert one.subject == "New lead: Acme GmbH (score 81)"
    assert "Ana <ana@acme.example>" in one.body and "without the LLM's reading" in one.body
    assert "420 employees" in one.body and "partly enriched: financials" in one.body
    assert owner_digest("De-2", [routed, routed]).subject == "2 new leads for you"
