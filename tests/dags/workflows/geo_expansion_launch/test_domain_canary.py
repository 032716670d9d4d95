"""Canary guardrails and the rollout's next share: pure rules, no Airflow."""

from __future__ import annotations

from typing import Any

import pytest

from workflows.geo_expansion_launch.domain import (
    FULL_SHARE,
    CanaryFigures,
    Guardrails,
    evaluate_canary,
    next_share,
    scale_decision_request,
)
from workflows.geo_expansion_launch.scale import HOLD, ROLL_BACK, WIDEN, choices_for_round

HEALTHY = {
    "sample_size": 250,
    "error_rate": 0.006,
    "p95_latency_ms": 450,
    "conversion_rate": 0.033,
    "baseline_conversion_rate": 0.034,
}


def evaluate(**figures: Any) -> Any:
    return evaluate_canary(CanaryFigures.model_validate({**HEALTHY, **figures}), Guardrails())


def test_a_healthy_canary_passes() -> None:
    result = evaluate()
    assert result.verdict == "pass" and not result.breaches
    assert result.summary() == (
        "within guardrails: error rate 0.60% (limit 2.00%); p95 latency 450 ms (limit 800 ms); "
        "conversion 3.30% = 0.97 x baseline (at least 0.90 x)"
    )


@pytest.mark.parametrize(
    ("figures", "metric"),
    [
        ({"error_rate": 0.065}, "error_rate"),
        ({"p95_latency_ms": 1450}, "p95_latency_ms"),
        ({"conversion_rate": 0.02}, "conversion_ratio"),
    ],
)
def test_each_guardrail_breaches_on_its_own(figures: dict[str, Any], metric: str) -> None:
    result = evaluate(**figures)
    assert result.verdict == "breach"
    assert [check.metric for check in result.breaches] == [metric]
    assert result.summary().startswith("guardrail breached: ")


def test_limits_are_inclusive_and_configurable() -> None:
    assert evaluate(error_rate=0.02, p95_latency_ms=800).verdict == "pass"
    strict = Guardrails(max_error_rate=0.005)
    assert evaluate_canary(CanaryFigures.model_validate(HEALTHY), strict).verdict == "breach"
    assert evaluate(conversion_rate=0.034 * 0.9).verdict == "pass"


def test_too_few_sessions_is_inconclusive_even_with_bad_figures() -> None:
    result = evaluate(sample_size=99, error_rate=0.5)
    assert result.verdict == "inconclusive"
    assert result.summary().startswith("inconclusive: only 99 canary users in the window")


def test_bad_figures_from_the_provider_are_refused() -> None:
    with pytest.raises(ValueError):
        CanaryFigures.model_validate({**HEALTHY, "baseline_conversion_rate": 0})
    with pytest.raises(ValueError):
        Guardrails(max_error_rate=0)


STEPS = (5, 25, 50)


@pytest.mark.parametrize(
    ("current", "widen", "last_round", "expected"),
    [
        (5, True, False, (False, 25, True)),
        (25, True, False, (False, 50, True)),
        (50, True, False, (True, FULL_SHARE, True)),  # past the plan's last share: the full launch
        (5, False, False, (False, 5, False)),  # hold: the same share again
        (5, True, True, (True, FULL_SHARE, True)),  # the last round: widening is the full launch
    ],
)
def test_next_share(current: int, widen: bool, last_round: bool, expected: tuple[bool, int, bool]) -> None:
    after = next_share(STEPS, current, widen=widen, last_round=last_round)
    assert (after.full_launch, after.share_pct, after.widened) == expected
    assert after.route == ("full_launch" if expected[0] else "next_window")


def test_no_hold_in_the_last_round() -> None:
    with pytest.raises(ValueError, match="no hold in the last round"):
        next_share(STEPS, 25, widen=False, last_round=True)
    assert choices_for_round(1, 5) == [WIDEN, HOLD, ROLL_BACK]
    assert choices_for_round(4, 5) == [WIDEN, HOLD, ROLL_BACK]
    assert choices_for_round(5, 5) == [WIDEN, ROLL_BACK]
    with pytest.raises(ValueError):
        choices_for_round(6, 5)


def test_the_decision_request_says_what_the_lead_decides() -> None:
    from tests.dags.workflows.geo_expansion_launch.test_domain_plan import plan

    text = scale_decision_request(plan(), 2, 25, evaluate().summary(), choices_for_round(2, 5))
    assert text.startswith("Launch in Brazil (BR), round 2: 25% of users. Canary within guardrails: ")
    assert text.endswith("Choose Widen, Hold, Roll back; add a comment.")
