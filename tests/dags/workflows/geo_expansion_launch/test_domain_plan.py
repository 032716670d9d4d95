"""The launch plan, readiness checks and messages of geo_expansion_launch: pure rules, no Airflow."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from workflows.geo_expansion_launch.common import REGIONS
from workflows.geo_expansion_launch.domain import (
    MIN_SUPPORT_HOURS,
    REGION_COUNTRY,
    LaunchPlan,
    ReadinessChecklist,
    assess_readiness,
    child_wait_hours,
    filing_summary,
    launch_announcement,
    partner_launch_cancelled,
    users_rollback_notice,
)

PARTNER = {
    "partner_id": "P-PAY-1",
    "deal_id": "D-PAY-1",
    "name": "PagaRapido",
    "signer_email": "ana@pagarapido.example",
    "signer_name": "Ana Souza",
    "terms": {"revenue_share_pct": 12, "term_months": 24},
}
READY = {
    "localization_complete": True,
    "pricing_in_local_currency": True,
    "tax_registration": True,
    "support_coverage_hours": 10,
    "payment_methods": ["pix", "card"],
    "privacy_review": "approved",
    "data_residency_required": True,
}


def plan(**overrides: Any) -> LaunchPlan:
    fields: dict[str, Any] = {
        "market": "BR",
        "market_name": "Brazil",
        "region": "sa-east-1",
        "currency": "BRL",
        "partners": [PARTNER],
        "rollout_steps_pct": [5, 25, 50],
    }
    fields.update(overrides)
    return LaunchPlan.model_validate(fields)


def test_the_trigger_forms_regions_are_the_domains() -> None:
    # The DAG file may not load the domain while it is parsed: the form's list is a copy, kept equal here.
    assert list(REGIONS) == sorted(REGION_COUNTRY)


def test_a_ready_market_passes_every_check() -> None:
    report = assess_readiness(plan(), ReadinessChecklist.model_validate(READY))

    assert report.ready and not report.failed
    assert [c.name for c in report.checks] == [
        "localization",
        "pricing",
        "tax",
        "support",
        "payments",
        "privacy",
        "data_residency",
    ]
    assert report.reason() == "market BR is ready (7 checks passed)"
    assert "data stays in BR (sa-east-1)" in {c.detail for c in report.checks}


def test_every_failed_check_is_named_in_the_reason() -> None:
    checklist = ReadinessChecklist.model_validate(
        {
            **READY,
            "support_coverage_hours": MIN_SUPPORT_HOURS - 1,
            "payment_methods": ["  "],
            "privacy_review": "pending",
        }
    )
    report = assess_readiness(plan(), checklist)

    assert not report.ready
    assert [c.name for c in report.failed] == ["support", "payments", "privacy"]
    assert report.reason() == (
        "market BR is not ready: support: 7 h of local-hours support, at least 8 h needed; "
        "payments: no local payment method ready; privacy: privacy review pending"
    )


def test_data_residency_needs_a_region_in_the_market() -> None:
    outside = plan(region="us-east-1")
    refused = assess_readiness(outside, ReadinessChecklist.model_validate(READY))
    assert [c.name for c in refused.failed] == ["data_residency"]
    assert refused.failed[0].detail == "data must stay in BR but region us-east-1 is in US"

    no_rule = assess_readiness(
        outside, ReadinessChecklist.model_validate({**READY, "data_residency_required": False})
    )
    assert no_rule.ready


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"region": "mars-north-1"}, "unknown region"),
        ({"rollout_steps_pct": [25, 5]}, "rollout steps must grow"),
        ({"rollout_steps_pct": [5, 100]}, "100 % is the full launch"),
        ({"rollout_steps_pct": []}, "at least 1"),
        ({"partners": []}, "at least 1"),
        ({"partners": [PARTNER, {**PARTNER, "deal_id": "D-2"}]}, "listed twice"),
        ({"currency": "real"}, "pattern"),
        ({"market": "bra"}, "pattern"),
    ],
)
def test_a_bad_plan_is_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        plan(**overrides)


def test_partners_distinct_by_their_child_stage() -> None:
    # "P.1" and "P-1" would make the same child request id (keys.child_request_id replaces the dot).
    with pytest.raises(ValidationError, match="listed twice"):
        plan(partners=[{**PARTNER, "partner_id": "P.1"}, {**PARTNER, "partner_id": "P-1"}])
    two = plan(partners=[PARTNER, {**PARTNER, "partner_id": "P-LOG-2", "deal_id": "D-LOG-2"}])
    assert [p.stage for p in two.partners] == ["partner-P-PAY-1", "partner-P-LOG-2"]
    assert two.partner("P-LOG-2").deal_id == "D-LOG-2"


def test_flag_key_is_per_launch_and_fits_a_flag_provider() -> None:
    assert plan().flag_key("Launch_BR.2027") == "geo-launch-br-launch_br-2027"
    assert plan().flag_key("x" * 200).startswith("geo-launch-br-x") and len(plan().flag_key("x" * 200)) == 100


def test_the_parent_waits_a_little_longer_than_the_childs_deadline() -> None:
    assert child_wait_hours(336) == 337  # an hour of grace at most
    assert child_wait_hours(2) == pytest.approx(2.2)  # a tenth below ten hours
    assert child_wait_hours(0.01) == pytest.approx(0.011)


def test_messages_name_the_market_and_never_the_internal_ids() -> None:
    launch = plan()
    assert "Brazil (BR)" in filing_summary(launch) and "PagaRapido (P-PAY-1)" in filing_summary(launch)
    assert "5%, 25%, 50%, then 100%" in filing_summary(launch)

    notice = partner_launch_cancelled(launch, launch.partners[0], "{reason}")
    assert notice.subject == "Launch in Brazil stopped"
    assert "Dear Ana Souza," in notice.body and "Reason: {reason}" in notice.body and "D-PAY-1" in notice.body

    assert users_rollback_notice(launch).subject == "Early access in Brazil has ended"
    assert launch_announcement(launch).subject == "We are live in Brazil"
    assert "geo_expansion_launch" not in users_rollback_notice(launch).body + launch_announcement(launch).body
