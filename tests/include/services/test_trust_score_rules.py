"""Trust score rules (include/services/trust_score): each factor, the tiers, the input checks."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from include.services.trust_score import History, SignatureRecord, TrustScoreRequest, score_trust, tier_for
from include.services.trust_score.rules import (
    compliance_factor,
    payment_factor,
    signature_factor,
    workflow_factor,
)


def request(**overrides: Any) -> TrustScoreRequest:
    return TrustScoreRequest.model_validate({"subject_type": "partner", "subject_id": "P-1", **overrides})


def test_no_history_at_all_is_neutral() -> None:
    result = score_trust(request(), History())
    assert result.score == 50 and result.tier == "watch"
    assert [f.points for f in result.factors] == [50, 0, 0, 0, 0]


def test_workflow_history_balance_scaled_by_volume() -> None:
    assert workflow_factor(History(completed=5)).points == 20
    assert workflow_factor(History(completed=1)).points == 4  # one ended workflow: a fifth of the weight
    assert workflow_factor(History(compensated=5)).points == -20
    assert workflow_factor(History(completed=6, compensated=2, ended_badly=2)).points == 4  # (6-4)/10 x 20
    running_only = workflow_factor(History(running=3))
    assert running_only.points == 0 and "3 running" in running_only.explanation


def test_payment_record() -> None:
    assert payment_factor(None).points == 0
    assert payment_factor(request(payments={"invoices": 0}).payments).points == 0
    assert payment_factor(request(payments={"invoices": 10, "paid_on_time": 10}).payments).points == 15
    late = request(payments={"invoices": 10, "paid_on_time": 5, "paid_late": 5}).payments
    assert payment_factor(late).points == 7.5 - 5
    defaulted = request(payments={"invoices": 10, "paid_on_time": 7, "defaulted": 3}).payments
    assert payment_factor(defaulted).points == pytest.approx(10.5 - 30)  # defaults cost at most 30
    overdue = request(payments={"invoices": 10, "paid_on_time": 10, "overdue_usd": 1}).payments
    assert payment_factor(overdue).points == 10


def test_compliance_flags_unresolved_resolved_and_capped() -> None:
    flags = [{"code": "aml-1", "severity": "high"}, {"code": "kyc-2", "severity": "low", "resolved": True}]
    assert compliance_factor(request(compliance_flags=flags)).points == -(15 + 0.5)
    many = [{"code": f"c{i}", "severity": "high"} for i in range(5)]
    capped = compliance_factor(request(compliance_flags=many))
    assert capped.points == -50 and "capped" in capped.explanation


def test_signature_behaviour_counts_voided_as_unsigned() -> None:
    assert signature_factor(History(signatures=SignatureRecord(signed=3))).points == 15
    assert signature_factor(History(signatures=SignatureRecord(signed=1, voided=2))).points == -5
    assert (
        signature_factor(History(signatures=SignatureRecord(signed=1))).points == 5
    )  # a third of the weight
    assert signature_factor(History(signatures=SignatureRecord(pending=4))).points == 0


def test_an_unresolved_critical_flag_restricts_whatever_the_score() -> None:
    best = request(
        payments={"invoices": 10, "paid_on_time": 10},
        compliance_flags=[{"code": "sanctions", "severity": "critical"}],
    )
    history = History(completed=10, signatures=SignatureRecord(signed=5))
    result = score_trust(best, history)
    assert result.score == 50 + 20 + 15 - 40 + 15
    assert result.tier == "restricted"
    resolved = best.model_copy(
        update={"compliance_flags": [best.compliance_flags[0].model_copy(update={"resolved": True})]}
    )
    assert score_trust(resolved, history).tier == "trusted"


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        (100, "trusted"),
        (75, "trusted"),
        (74, "standard"),
        (55, "standard"),
        (54, "watch"),
        (35, "watch"),
        (34, "restricted"),
        (0, "restricted"),
    ],
)
def test_tiers(score: int, tier: str) -> None:
    assert tier_for(score, unresolved_critical=False) == tier


def test_result_carries_rules_version_and_history() -> None:
    history = History(completed=2)
    result = score_trust(request(), history)
    assert result.rules_version == "trust-v1" and result.history == history


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subject_type": "vendor"}, "subject_type"),
        ({"subject_id": "a b"}, "subject_id"),
        ({"payments": {"invoices": 2, "paid_on_time": 2, "paid_late": 1}}, "payments"),
        ({"payments": {"invoices": -1}}, "payments"),
        ({"compliance_flags": [{"code": "x", "severity": "severe"}]}, "compliance_flags"),
        ({"deal_ids": ["ok", ""]}, "deal_ids"),
    ],
)
def test_bad_input_is_refused_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        request(**overrides)
    assert caught.value.errors()[0]["loc"][0] == field
