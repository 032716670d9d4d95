"""Dashboard rules (include/services/dashboard): windows, error rates, the lead funnel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from include.services.dashboard import error_rates, lead_funnel, windows

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_every_cut_off_comes_from_one_now() -> None:
    w = windows(NOW, overdue_after_hours=36)
    assert w.overdue_before == NOW - timedelta(hours=36)
    assert w.compensations_since == {"7d": NOW - timedelta(days=7), "30d": NOW - timedelta(days=30)}
    assert w.errors_since == NOW - timedelta(hours=24)


@pytest.mark.parametrize(("now", "hours"), [(datetime(2026, 12, 5), 48), (NOW, 0), (NOW, -1)])
def test_windows_refuse_a_naive_now_or_a_non_positive_overdue(now: datetime, hours: float) -> None:
    with pytest.raises(ValueError):
        windows(now, overdue_after_hours=hours)


def test_error_rates_worst_first_and_systems_without_calls_left_out() -> None:
    rates = error_rates([("crm", 10, 1), ("llm", 4, 2), ("sms", 0, 0), ("email", 10, 1)])
    assert [(r.system, r.error_rate) for r in rates] == [("llm", 0.5), ("crm", 0.1), ("email", 0.1)]


def test_funnel_counts_a_lead_as_having_reached_every_stage_before_its_own() -> None:
    funnel = lead_funnel(
        {
            ("new", "cold"): 50,
            ("contacted", "warm"): 20,
            ("qualified", "warm"): 10,
            ("qualified", "hot"): 10,
            ("won", "hot"): 10,
            ("lost", "cold"): 7,
        }
    )
    steps = {s.stage: s for s in funnel.steps}
    assert [s.stage for s in funnel.steps] == ["new", "contacted", "qualified", "proposal", "won"]
    assert [s.reached for s in funnel.steps] == [100, 50, 30, 10, 10]
    assert steps["new"].conversion_from_previous is None
    assert steps["contacted"].conversion_from_previous == 0.5
    assert steps["qualified"].conversion_from_previous == 0.6
    assert steps["proposal"].at_stage == 0 and steps["won"].conversion_from_previous == 1.0
    assert funnel.lost == 7 and funnel.scored == 107
    assert funnel.by_band == {"cold": 57, "hot": 20, "warm": 30}


def test_empty_funnel_has_no_conversions_and_unknown_stage_is_an_error() -> None:
    assert all(s.conversion_from_previous is None for s in lead_funnel({}).steps)
    with pytest.raises(ValueError, match="unknown lead stage"):
        lead_funnel({("maybe", "hot"): 1})
