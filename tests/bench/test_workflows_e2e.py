"""bench/workflows_e2e.py's computation on synthetic task-instance tries: task work, the critical path through
the DAG (tries summed, mapped instances side by side, waits that did not run), the interval chain without
edges, and the scheduling share of the wall time."""

from __future__ import annotations

import pytest

from bench import workflows_e2e as e2e
from bench.workflows_e2e import Try

RUN = "bench__r1"


def t(task: str, start: float | None, end: float | None, *, idx: int = -1, n: int = 1, run: str = RUN) -> Try:
    return Try(run, task, idx, n, start, end, "success" if end is not None else None)


# a -> b -> d and a -> c -> d: c is the heavier branch.
DOWN = {"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}
TRIES = [t("a", 0, 1), t("b", 2, 3), t("c", 2, 6), t("d", 7, 8)]


def test_task_work_sums_every_try() -> None:
    assert e2e.task_work_s(TRIES) == pytest.approx(1 + 1 + 4 + 1)
    # A try that never started (skipped) or has not ended counts nothing.
    assert e2e.task_work_s([*TRIES, t("e", None, None), t("f", 3, None)]) == pytest.approx(7)


def test_critical_path_takes_the_heavier_branch() -> None:
    weight, path = e2e.critical_path(e2e.task_weights(TRIES), DOWN)
    assert weight == pytest.approx(6)
    assert path == ["a", "c", "d"]


def test_retries_add_up_and_mapped_instances_count_their_longest() -> None:
    tries = [
        t("a", 0, 1),
        t("b", 1, 3, n=1),  # failed try
        t("b", 5, 7, n=2),  # its retry: b weighs 4
        t("c", 1, 2, idx=0),
        t("c", 1, 4.5, idx=1),  # mapped: c weighs its longest instance, 3.5
        t("c", 1, 3, idx=2),
        t("d", 8, 9),
    ]
    weights = e2e.task_weights(tries)
    assert weights == pytest.approx({"a": 1, "b": 4, "c": 3.5, "d": 1})
    assert e2e.critical_path(weights, DOWN) == (pytest.approx(6), ["a", "b", "d"])


def test_tasks_that_did_not_run_weigh_nothing_and_cycles_are_refused() -> None:
    weight, path = e2e.critical_path({"a": 1.0, "d": 1.0}, DOWN)  # b and c skipped
    assert weight == pytest.approx(2) and path[0] == "a" and path[-1] == "d"
    with pytest.raises(ValueError, match="cycle"):
        e2e.critical_path({"a": 1.0}, {"a": ["b"], "b": ["a"]})


def test_chain_path_without_edges_is_the_heaviest_sequence_of_tries() -> None:
    # b and c overlap: only one of them can be in a chain; the chain a, c, d weighs 6.
    assert e2e.chain_path(TRIES) == pytest.approx(6)
    # Two short tries one after another beat one long one overlapping both.
    assert e2e.chain_path([t("x", 0, 3), t("y", 0, 2), t("z", 2, 4)]) == pytest.approx(4)
    assert e2e.chain_path([]) == 0


def test_breakdown_share_is_wall_minus_path_over_wall() -> None:
    child = [t("sign", 2.5, 5.5, run="child__x__partner"), t("route", 5.6, 5.9, run="child__x__partner")]
    got = e2e.breakdown(10.0, [*TRIES, *child], RUN, DOWN)
    assert got["critical_path_s"] == pytest.approx(6)
    assert got["scheduling_s"] == pytest.approx(4)
    assert got["scheduling_share_pct"] == pytest.approx(40.0)
    # Child runs' tasks count as tasks and work, not on the parent's path.
    assert got["task_instances"] == 6 and got["child_runs"] == 1
    assert got["task_work_s"] == pytest.approx(7 + 3 + 0.3)
    assert got["critical_path_tasks"] == 3
    assert got["retried_tries"] == 0
    # A second try of the same instance is a retry: one more try, not one more task instance.
    again = e2e.breakdown(10.0, [*TRIES, t("b", 3, 3.5, n=2)], RUN, DOWN)
    assert again["retried_tries"] == 1 and again["task_instances"] == 4 and again["tries"] == 5


def test_breakdown_without_edges_uses_the_chain_and_never_goes_negative() -> None:
    got = e2e.breakdown(5.0, TRIES, RUN, None)
    assert got["critical_path_s"] == pytest.approx(6)  # the tries' clocks exceed the wall measured
    assert got["scheduling_s"] == 0 and got["scheduling_share_pct"] == 0
    assert e2e.breakdown(0.0, [], RUN, DOWN)["scheduling_share_pct"] is None


def test_markdown_lists_each_workflow_and_the_profile() -> None:
    found = {
        "answer_age_s": 1.5,
        "runs": {
            "partner_approval": {
                "state": "success",
                "wall_s": 30.1,
                "task_instances": 20,
                "task_work_s": 25.0,
                "critical_path_s": 12.0,
                "approvals_answered": 3,
                "answer_wait_s": 4.6,
                "scheduling_share_pct": 60.1,
                "profile": {"level_1": {"cpu_s": 3.2, "hot": [("_do_scheduling (x.py)", 0.4)]}},
            }
        },
        "skipped": {"affiliate_onboarding": "not deployed"},
    }
    text = "\n".join(e2e.markdown_lines(found))
    assert "| partner_approval | success | 30.1 | 20 | 25.0 | 12.0 | 3 (4.6) | 60.1 % |" in text
    assert "affiliate_onboarding | skipped: not deployed" in text
    assert "level_1: 3.2 CPU s; _do_scheduling (x.py) 40%" in text
    assert e2e.markdown_lines(None) == []
