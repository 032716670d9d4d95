"""affiliate_onboarding's business rules: the application checked field by field, the evaluation's hard
checks, score and decision, and the messages."""

from __future__ import annotations

from typing import Any

import pytest

from workflows.affiliate_onboarding.domain import (
    Application,
    BadApplication,
    Screening,
    Trust,
    compliance_flags,
    declined,
    evaluate,
    listed_domain,
    parse_application,
    payout_setup,
    welcome,
)

FULL: dict[str, Any] = {
    "request_id": "app-1",
    "applicant_name": "Lena Fischer",
    "email": "Lena@FischerReviews.de",
    "company": "Fischer Reviews",
    "website": "https://www.fischerreviews.de/tech",
    "country": "DE",
    "promotion_methods": ["content", "email"],
    "monthly_visitors": 120_000,
    "audience_description": "German tech buyers reading hands-on reviews",
}
MINIMAL: dict[str, Any] = {
    "request_id": "app-2",
    "applicant_name": "Sam",
    "email": "sam@gmail.com",
    "promotion_methods": ["social"],
}
CLEAR = Screening(screening_id="scr-1", status="clear")
NEUTRAL = Trust(score=50, tier="watch")


def app(**changes: Any) -> Application:
    return parse_application({**FULL, **changes})


# ----------------------------------------------------------------------------- the application
def test_a_full_application_is_normalised() -> None:
    application = app()
    assert application.application_id == "app-1"
    assert application.email == "lena@fischerreviews.de" and application.email_domain == "fischerreviews.de"
    assert application.website == "https://www.fischerreviews.de/tech"
    assert application.website_domain == "www.fischerreviews.de"
    assert application.affiliate_id == app(email="LENA@fischerreviews.de ").affiliate_id
    assert application.affiliate_id != app(email="other@fischerreviews.de").affiliate_id
    assert app(website="fischerreviews.de/").website == "https://fischerreviews.de"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"website": "not a site"}, "website: not a web address"),
        ({"website": "ftp://files.example.com"}, "website: not a web address"),
        ({"website": "https://localhost"}, "website: not a web address"),
        ({"email": "lena@localhost"}, "email: not an email address with a valid domain"),
        ({"country": "Germany"}, "country: String should match pattern"),
        ({"promotion_methods": ["content", "content"]}, "promotion_methods: each method once"),
        ({"promotion_methods": ["spam"]}, "promotion_methods.0: Input should be"),
        ({"auto_reject_score": 70}, r"auto_reject_score: must be below auto_approve_score \(70\)"),
        ({"request_id": ""}, "request_id: String should have at least 1 character"),
    ],
)
def test_bad_input_names_the_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(BadApplication, match=message) as caught:
        app(**changes)
    assert str(caught.value).startswith(caught.value.field + ":")


# ----------------------------------------------------------------------------- the evaluation
def test_a_complete_application_with_a_clean_record_is_approved_by_rule() -> None:
    evaluation = evaluate(app(), CLEAR, NEUTRAL)
    assert [(p.name, p.points) for p in evaluation.parts] == [
        ("trust_score", 50),
        ("completeness", 10),
        ("business_email", 5),
        ("audience", 10),
    ]
    assert evaluation.score == 75 and evaluation.decision == "approve"
    assert evaluation.reasons == ("score 75 reaches 70",)
    assert all(c.passed for c in evaluation.checks) and evaluation.missing == ()
    assert evaluation.commission_plan == "growth"
    assert "Score 75/100 (approve)" in evaluation.summary()


def test_a_minimal_application_goes_to_a_person() -> None:
    evaluation = evaluate(parse_application(MINIMAL), CLEAR, NEUTRAL)
    # 50 - 10 (nothing optional given) - 5 (free mailbox)
    assert evaluation.score == 35 and evaluation.decision == "review"
    assert evaluation.missing == ("company", "website", "country", "audience_description", "monthly_visitors")
    assert evaluation.reasons == ("score 35 is between 35 and 70",)
    assert evaluation.commission_plan == "starter"


def test_a_poor_history_is_rejected_by_rule() -> None:
    evaluation = evaluate(parse_application(MINIMAL), CLEAR, Trust(score=30, tier="restricted"))
    assert evaluation.score == 15 and evaluation.decision == "reject"
    assert evaluation.reasons == ("score 15 is under 35",)


@pytest.mark.parametrize(
    ("changes", "check", "detail"),
    [
        ({"email": "lena@mailinator.com"}, "email_domain", "mailinator.com: disposable email"),
        ({"email": "x@eu.coupon-stuffer.example"}, "email_domain", "blocked (coupon-stuffer.example)"),
        (
            {"website": "https://deals.cashback-farm.example"},
            "website_domain",
            "blocked (cashback-farm.example)",
        ),
    ],
)
def test_a_blocked_domain_is_rejected_whatever_the_score(
    changes: dict[str, Any], check: str, detail: str
) -> None:
    evaluation = evaluate(app(**changes), CLEAR, Trust(score=100, tier="trusted"))
    assert evaluation.decision == "reject"
    failed = [c for c in evaluation.checks if not c.passed]
    assert [c.name for c in failed] == [check] and detail in failed[0].detail
    assert evaluation.reasons[0].startswith(f"{check} check failed")


def test_sanctions_a_match_rejects_a_potential_match_needs_a_person() -> None:
    hit = {"entry_id": "SAN-004", "listed_name": "Sable Finch Logistics", "screened": "Sable Finch"}
    match = Screening(screening_id="scr-2", status="match", matches=[{**hit, "strength": "match"}])
    potential = Screening(
        screening_id="scr-3", status="potential_match", matches=[{**hit, "strength": "potential_match"}]
    )
    assert compliance_flags(match) == [{"code": "sanctions-match", "severity": "critical"}]
    assert compliance_flags(potential) == [{"code": "sanctions-potential-match", "severity": "high"}]
    assert compliance_flags(CLEAR) == []

    rejected = evaluate(app(), match, Trust(score=90, tier="trusted"))
    assert rejected.decision == "reject" and "SAN-004" in rejected.reasons[0]
    reviewed = evaluate(app(), potential, Trust(score=90, tier="trusted"))
    assert reviewed.decision == "review" and reviewed.needs_person
    assert reviewed.reasons == ("a potential sanctions match needs a person",)
    # A person is not needed to say no.
    assert evaluate(app(), potential, Trust(score=0, tier="restricted")).decision == "reject"


def test_an_open_account_on_the_same_email_is_a_duplicate() -> None:
    evaluation = evaluate(app(), CLEAR, NEUTRAL, ["affiliate_onboarding:app-0"])
    assert evaluation.decision == "reject"
    assert "already an affiliate or applying: affiliate_onboarding:app-0" in evaluation.reasons[0]


def test_thresholds_come_from_the_application() -> None:
    assert evaluate(app(auto_approve_score=80), CLEAR, NEUTRAL).decision == "review"
    assert evaluate(app(auto_approve_score=100, auto_reject_score=99), CLEAR, NEUTRAL).decision == "reject"


def test_listed_domain_matches_subdomains_only() -> None:
    listed = frozenset({"bad.example"})
    assert listed_domain("bad.example", listed) == "bad.example"
    assert listed_domain("a.b.bad.example", listed) == "bad.example"
    assert listed_domain("notbad.example", listed) is None
    assert listed_domain(None, listed) is None


# ----------------------------------------------------------------------------- messages
def test_messages() -> None:
    application = app()
    setup = payout_setup(application, account_id="aff_1", onboarding_url="https://payouts.example/onboard/p1")
    assert "https://payouts.example/onboard/p1" in setup.body and "bank transfer details (USD)" in setup.body
    links = [{"destination": "https://execution-plane.example/", "url": "https://go.affiliates.example/t1"}]
    hello = welcome(application, account_id="aff_1", commission_plan="growth", links=links)
    assert "aff_1 is active on the growth commission plan" in hello.body and links[0]["url"] in hello.body
    no = declined(application)
    assert "not able to accept" in no.body and "sanction" not in no.body.lower()
