"""bench/report.py: every "met" cell is the measured figure checked against the issue's target, and every
report says which code, Airflow and CPU it measured."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from bench import report


def summary(p50: float, p95: float, n: int = 20) -> dict[str, Any]:
    return {"n": n, "p50": p50, "p95": p95, "min": p50 / 2, "max": p95 * 1.1, "mean": (p50 + p95) / 2}


def latency(p50: float, p95: float) -> dict[str, Any]:
    return {"p50": p50, "p95": p95}


def writers(n: int, replay_p95_ms: float) -> dict[str, Any]:
    def op(keys_per_s: float, p50: float, p95: float) -> dict[str, Any]:
        return {
            "writers": n,
            "ops": 100,
            "seconds": 1.0,
            "keys_per_s": keys_per_s,
            "latency_ms": latency(p50, p95),
        }

    return {
        "plain_insert": op(2000.0, 0.3, 0.6),
        "run_step_insert": op(800.0, 0.9, 1.5),
        "run_step_replay": op(1400.0, 0.5, replay_p95_ms),
        "ratio_insert_vs_plain_keys_per_s": 0.4,
        "ratio_replay_vs_plain_keys_per_s": 0.7,
    }


# Every figure meets its target: each test below moves one figure and reads its row's "met" cell.
MEETING: dict[str, Any] = {
    "when": "20270101T000000Z",
    "mode": "quick",
    "config": {"resume_n": 20},
    "dbos_reference": {
        "message_to_resumed_done_p50_s": 0.0058,
        "parked_1000_mib": 46,
        "parked_pg_connections_max": 21,
        "trivial_step_ms": 1.7,
    },
    "code": {
        "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False, "changed_paths": 0},
        "airflow_version": "3.3.2",
    },
    "machine": {
        "cpu_model": "Example CPU @ 2.0GHz",
        "cpus": 2,
        "python": "3.11.9",
        "postgres": "embedded",
        "load_avg_start": [0.5, 0.5, 0.5],
        "load_avg_end": [0.7, 0.6, 0.5],
    },
    "duration_s": 100.0,
    "resume": {
        "webhook_to_wait_end": summary(0.08, 0.2),
        "hitl_to_approval_end": summary(0.9, 1.5),
        "webhook_to_next_end": summary(0.8, 1.5),
        "hitl_to_next_end": summary(0.6, 0.9),
    },
    "after": [
        {
            "env": {},
            "effective_env": {"AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.1"},
            "idle_scheduler_cpu": {"scheduler_cpu_pct_of_one_core": 20.0},
            "resume": {
                "webhook_to_wait_end": summary(0.5, 0.9),
                "webhook_to_next_end": summary(0.8, 1.3),
                "hitl_to_next_end": summary(0.5, 0.8),
            },
        }
    ],
    "idle_scheduler_cpu_before": {"scheduler_cpu_pct_of_one_core": 2.0},
    "parked_n1": {"webhook_to_wait_end": summary(0.4, 0.9)},
    "parked": {
        "n": 1000,
        "running": 1000,
        "triggerers_used": 1,
        "trigger_rest_s": 19.0,
        "all_running_s": 44.0,
        "pg_connections_parked": {"total": 2, "by_db_app": {"a": 1, "b": 1}, "listener_app_name": 1},
        "pg_backends_for_waits_pss_mib": 8.3,
        "pss_mib_per_1000_waits": 45.4,
        "rss_mib_per_1000_waits": 45.8,
        "webhook_to_wait_end": summary(0.47, 1.0),
        "p95_ratio_vs_n1": 1.1,
        "drain": {"n": 980, "all_tasks_ended_s": 20.4},
        "runs_finished_after_drain_s": 49.2,
    },
    "ledger": {"writers_1": writers(1, 1.0), "writers_8": writers(8, 4.0)},
    "parse": {
        "sdk_alone_ms": {"best": 1100.0, "median": 1174.5},
        "floor_dag_beyond_sdk_ms": 30.0,
        "reps": 3,
        "target_ms": 50.0,
        "files": [
            {"file": "a.py", "beyond_sdk_ms": 40.0, "ratio_total_vs_sdk_alone": 1.04, "meets_target": True},
            {"file": "b.py", "beyond_sdk_ms": 49.9, "ratio_total_vs_sdk_alone": 1.05, "meets_target": True},
        ],
    },
    "throughput": {
        "concurrency": 6,
        "window_s": 150,
        "failed": 0,
        "completed_runs_per_min": 8.46,
        "littles_law_runs_per_min": 8.15,
        "run_duration_s": summary(39.8, 66.7, n=23),
        "scheduler_loop_ms": {**summary(185.5, 695.0, n=468), "loops": 468},
        "cpu_s_during_window": {"scheduler": 154.3},
        "machine_cpu_during_window": {"busy_pct": 85.4},
        "task_instances_ended_in_window": 571,
        "cpu_s_per_task_instance": 0.4,
    },
}

ROWS = ["1", "2", "2'", "3a", "3b", "3c", "3d", "3e", "4", "4", "5", "6"]


def met_cells(r: dict[str, Any]) -> list[tuple[str, str]]:
    """(row number, its "met" cell) of every row of the results table (the report's first table; the issue-17
    targets table, bench/targets.py, follows it and is tested in test_targets.py)."""
    lines = report.markdown(r).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| # | figure |"))
    table = [line for line in itertools.takewhile(lambda line: line.startswith("|"), lines[start:])]
    rows = [line for line in table if line.startswith("| ") and "---" not in line]
    cells = [[cell.strip() for cell in row.split("|")[1:-1]] for row in rows[1:]]  # rows[0]: the header
    assert all(len(c) == 8 for c in cells), cells
    return [(c[0], c[6]) for c in cells]


def met(r: dict[str, Any], row: str, which: int = 0) -> str:
    return [cell for number, cell in met_cells(r) if number == row][which]


def changed(path: str, value: Any) -> dict[str, Any]:
    r = copy.deepcopy(MEETING)
    *parents, leaf = path.split(".")
    node: Any = r
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[leaf] = value
    return r


def test_every_target_met_reads_yes_on_every_row() -> None:
    cells = met_cells(MEETING)

    assert [number for number, _ in cells] == ROWS
    assert [cell.split(" ")[0] for _, cell in cells] == ["yes"] * 7 + [""] + ["yes"] * 4


@pytest.mark.parametrize(
    ("row", "which", "path", "value"),
    [
        ("1", 0, "resume.webhook_to_wait_end", summary(0.11, 0.2)),
        ("2", 0, "resume.webhook_to_next_end", summary(1.01, 1.5)),
        ("2", 0, "resume.webhook_to_next_end", summary(0.8, 2.01)),
        ("2'", 0, "after.0.resume.webhook_to_next_end", summary(0.8, 2.5)),
        ("3a", 0, "parked.triggerers_used", 2),
        ("3a", 0, "parked.running", 999),
        ("3b", 0, "parked.pg_connections_parked.listener_app_name", 3),
        ("3c", 0, "parked.n", 999),  # per 1,000 waits, extrapolated from fewer: not the target
        ("3d", 0, "parked.p95_ratio_vs_n1", 2.01),
        ("4", 0, "ledger.writers_1.run_step_replay.latency_ms", latency(0.5, 5.0)),
        ("4", 1, "ledger.writers_8.run_step_replay.latency_ms", latency(0.5, 8.4)),
        ("5", 0, "parse.files.1.beyond_sdk_ms", 50.0),
        ("6", 0, "throughput.failed", 1),
        ("6", 0, "throughput.completed_runs_per_min", 0.0),
    ],
)
def test_a_figure_past_its_target_reads_no(row: str, which: int, path: str, value: Any) -> None:
    assert met(changed(path, value), row, which).startswith("**no**")


def test_parse_judges_the_figure_not_a_stored_verdict() -> None:
    r = changed("parse.files.1.beyond_sdk_ms", 80.0)  # "meets_target": True left in the file row

    assert met(r, "5") == "**no** (b.py 80)"


@pytest.mark.parametrize(
    ("row", "path", "value"),
    [
        ("1", "resume.webhook_to_wait_end", {"n": 0, "p50": None, "p95": None}),
        ("3c", "parked.pss_mib_per_1000_waits", None),
        ("3d", "parked.p95_ratio_vs_n1", None),
        ("6", "throughput.scheduler_loop_ms", {"n": 0, "p50": None, "p95": None, "loops": 0}),
    ],
)
def test_a_figure_not_measured_is_never_yes(row: str, path: str, value: Any) -> None:
    assert not met(changed(path, value), row).startswith("yes")


def test_parse_without_a_measured_file_is_not_applicable() -> None:
    assert met(changed("parse.files", []), "5") == "n/a"


def test_report_names_the_commit_the_airflow_version_and_the_cpu() -> None:
    text = report.markdown(MEETING)

    assert (
        "Code: commit `0123456789ab` (clean working tree); Airflow 3.3.2; CPU Example CPU @ 2.0GHz." in text
    )
    dirty = changed("code.git", {"commit": "fedcba9876543210", "dirty": True, "changed_paths": 3})
    assert "commit `fedcba987654` (with 3 uncommitted change(s) in the working tree)" in report.markdown(
        dirty
    )
    unknown = changed("code.git", {"commit": None, "dirty": None, "changed_paths": None, "error": "no git"})
    assert "commit unknown (no git)" in report.markdown(unknown)


def test_a_result_from_before_provenance_says_it_was_not_recorded() -> None:
    old = copy.deepcopy(MEETING)
    del old["code"]
    del old["machine"]["cpu_model"]

    assert "Code, Airflow version and CPU model: not recorded" in report.markdown(old)


def test_parked_workflow_rows_of_a_run_without_the_1000_point_say_not_measured() -> None:
    """A run of the burst alone (points 20): no ratio, no CPU difference; the cells say n/a, never 'Nonex' or
    '+None' (as bench-20261206T181500Z.md printed them)."""
    from bench.report import parked_workflows_rows

    summary = {"n": 5, "p50": 3.01, "p95": 3.88}
    point = {"parked": 20, "resume_next_task_finished": summary, "idle": {"scheduler_cpu_pct": 21.8}}
    rows = parked_workflows_rows({"curve": [point], "before": {**point, "idle": {"scheduler_cpu_pct": 72.8}}})
    assert len(rows) == 2
    assert "None" not in "".join(rows)
    cells = [[c.strip() for c in row.split("|")] for row in rows]
    assert cells[0][5] == "n/a" and cells[0][7] == "n/a"  # ratio, met
    assert cells[1][5] == "n/a" and cells[1][7] == "n/a"  # points above empty, met
