"""Lead scoring rules (include/services/lead_scoring): each factor, reading the LLM answer, degraded."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from include.services.lead_scoring import Lead, LlmJudgement, band_for, judgement_from_answer, score_lead
from include.services.lead_scoring.rules import RULES_MAX, llm_prompt, rule_factors


def lead(**overrides: Any) -> Lead:
    return Lead.model_validate({"lead_id": "L-1", "company_name": "Acme", **overrides})


def points(factors: list[Any], name: str) -> float:
    return next(f.points for f in factors if f.name == name)


@pytest.mark.parametrize(
    ("size", "expected"),
    [(None, 0), (1, 2), (9, 2), (10, 6), (49, 6), (50, 10), (249, 10), (250, 14), (999, 14), (1000, 15)],
)
def test_company_size_brackets(size: int | None, expected: float) -> None:
    assert points(rule_factors(lead(company_size=size)), "company_size") == expected


@pytest.mark.parametrize(
    ("industry", "expected"), [("Fintech", 8), ("  software ", 8), ("mining", 0), (None, 0)]
)
def test_target_industries_case_and_space_insensitive(industry: str | None, expected: float) -> None:
    assert points(rule_factors(lead(industry=industry)), "industry") == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [("referral", 12), ("partner", 10), ("inbound", 8), ("event", 6), ("outbound", 3), ("other", 0)],
)
def test_source_points(source: str, expected: float) -> None:
    assert points(rule_factors(lead(source=source)), "source") == expected


def test_engagement_adds_up_and_is_capped_at_15() -> None:
    small = {"replies": 1, "meetings": 1, "emails_opened": 2, "website_visits": 14}
    assert points(rule_factors(lead(engagement=small)), "engagement") == 4 + 6 + 2 + 2
    assert points(rule_factors(lead(engagement={"meetings": 9})), "engagement") == 15


@pytest.mark.parametrize(
    ("budget", "expected"), [(None, 0), (0, 0), (1, 3), (24_999, 3), (25_000, 6), (99_999, 6), (100_000, 10)]
)
def test_declared_budget(budget: float | None, expected: float) -> None:
    assert points(rule_factors(lead(budget_usd=budget)), "declared_budget") == expected


def test_rules_alone_reach_their_maximum() -> None:
    best = lead(
        company_size=5000,
        industry="saas",
        source="referral",
        budget_usd=1e6,
        engagement={"meetings": 5},
    )
    assert sum(f.points for f in rule_factors(best)) == RULES_MAX


def test_llm_answer_key_facts_become_signals_with_their_evidence() -> None:
    judgement = judgement_from_answer(
        {
            "summary": "x",
            "key_facts": [
                "Budget: approved 80k USD",
                "Decision maker: none identified yet",
                "Timeline: go-live in June",
                "Company size: 120",  # not a signal: ignored
                "no label here",
            ],
            "reference": "sbx-1",
        }
    )
    assert (judgement.budget, judgement.authority, judgement.timeline, judgement.need) == (
        "positive",
        "negative",
        "positive",
        "unknown",
    )
    assert judgement.evidence["authority"] == "Decision maker: none identified yet"
    assert judgement.reference == "sbx-1"


def test_a_negative_statement_wins_over_a_positive_one_whatever_the_order() -> None:
    for facts in (["Budget: yes", "Budget: not approved"], ["Budget: not approved", "Budget: yes"]):
        assert judgement_from_answer({"key_facts": facts}).budget == "negative"


@pytest.mark.parametrize("answer", [None, [], "text", {"summary": "no facts"}, {"key_facts": "Budget: 1"}])
def test_an_answer_without_a_key_facts_list_is_unreadable(answer: Any) -> None:
    with pytest.raises(ValueError, match="key_facts"):
        judgement_from_answer(answer)


def test_full_score_adds_ten_points_per_signal_and_subtracts_ten_per_absence() -> None:
    base = lead(company_size=120, source="inbound")  # 10 + 8 = 18 rule points
    judgement = LlmJudgement(budget="positive", timeline="positive", authority="negative", need="unknown")
    result = score_lead(base, judgement)
    assert result.score == 18 + 10 + 10 - 10
    assert not result.degraded and result.degraded_reason is None
    assert [f.name for f in result.factors][-4:] == [
        "llm_budget",
        "llm_timeline",
        "llm_authority",
        "llm_need",
    ]


def test_score_is_clamped_to_0_100() -> None:
    nothing = lead()
    all_negative = LlmJudgement(budget="negative", timeline="negative", authority="negative", need="negative")
    assert score_lead(nothing, all_negative).score == 0
    best = lead(
        company_size=5000, industry="saas", source="referral", budget_usd=1e6, engagement={"meetings": 5}
    )
    all_positive = LlmJudgement(budget="positive", timeline="positive", authority="positive", need="positive")
    assert score_lead(best, all_positive).score == 100


def test_without_a_judgement_the_rules_are_rescaled_and_flagged_never_zero() -> None:
    base = lead(company_size=120, industry="fintech", source="referral")  # 10 + 8 + 12 = 30 of 60
    result = score_lead(base, None, degraded_reason="LLM unavailable: timeout")
    assert result.score == 50
    assert result.degraded and result.degraded_reason == "LLM unavailable: timeout"
    missing = result.factors[-1]
    assert missing.name == "llm_judgement" and missing.points == 0
    assert "LLM unavailable: timeout" in missing.explanation and "rescaled" in missing.explanation
    # The same lead with an all-unknown judgement scores 30: degraded is not silently the lower figure.
    assert score_lead(base, LlmJudgement()).score == 30


@pytest.mark.parametrize(
    ("score", "band"), [(0, "cold"), (39, "cold"), (40, "warm"), (69, "warm"), (70, "hot")]
)
def test_bands(score: int, band: str) -> None:
    assert band_for(score) == band


def test_the_llm_reads_the_notes_only() -> None:
    assert llm_prompt(lead(notes="  Budget: yes \n", company_size=5)) == "Budget: yes"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lead_id", "has space"),
        ("lead_id", ""),
        ("company_size", 0),
        ("country", "usa"),
        ("stage", "maybe"),
        ("budget_usd", -1),
        ("notes", "nul\x00"),
        ("industry", "\udc80"),
        ("company_name", "a\x00b"),
        ("unexpected", 1),
    ],
)
def test_bad_lead_input_is_refused_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        lead(**{field: value})
    assert caught.value.errors()[0]["loc"][0] == field
