"""bench/targets.py: each issue-17 "met" is computed from the run's figures (met, missed, or n/a when the run
did not measure it), and each figure is compared with the last run of the history that measured it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import targets


def summary(p50: float, p95: float) -> dict[str, Any]:
    return {"n": 12, "p50": p50, "p95": p95}


def run(when: str, **overrides: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "when": when,
        "mode": "quick",
        "after": [
            {
                "resume": {
                    "webhook_to_wait_end": summary(0.05, 0.2),
                    "webhook_to_next_end": summary(0.6, 0.9),
                    "hitl_to_next_end": summary(0.8, 1.0),
                }
            }
        ],
        "parked": {
            "n": 1000,
            "running": 1000,
            "triggerers_used": 1,
            "pg_connections_parked": {"listener_app_name": 1},
            "webhook_to_wait_end": summary(0.5, 1.2),
            "p95_ratio_vs_n1": 1.2,
        },
        "parked_n1": {"webhook_to_wait_end": summary(0.5, 1.0)},
        "parse": {
            "floor_dag_beyond_sdk_ms": 40.0,
            "files": [
                {"file": "a/dag.py", "beyond_sdk_ms": 50.0},
                {"file": "b/dag.py", "beyond_sdk_ms": 58.0},
            ],
        },
        "throughput": {"completed_runs_per_min": 18.0, "concurrency": 6},
        "ingress": {
            "events": 1000,
            "copies": 2,
            "senders": 20,
            "deliveries_per_s": 140.0,
            "latency_s": summary(0.1, 0.3),
            "statuses": {"202": 1000, "200": 1000},
            "runs_started": 1000,
            "runs_expected": 1000,
        },
    }
    r.update(overrides)
    return r


def met(r: dict[str, Any]) -> dict[str, bool | None]:
    return {f.key: f.met for f in targets.figures(r)}


def test_every_target_met_is_computed_from_the_figures() -> None:
    assert met(run("20261205T000000Z")) == {
        "event_next_vs_hitl_p50": True,
        "event_next_vs_hitl_p95": True,
        "event_wait_end_p50": True,
        "event_wait_end_p95": True,
        "parked_p95_ratio": True,
        "parse_worst_ratio": True,
        "throughput_per_min": True,
        "ingress_per_s": True,
    }


def test_each_miss_is_a_miss() -> None:
    r = run("20261205T000000Z")
    r["after"][0]["resume"]["webhook_to_next_end"] = summary(0.9, 1.1)  # p50 0.9 <= 0.8? no; p95 1.1 > 1.0
    r["after"][0]["resume"]["webhook_to_wait_end"] = summary(0.11, 0.2)
    r["parked"]["pg_connections_parked"]["listener_app_name"] = 3
    r["parse"]["files"].append({"file": "c/dag.py", "beyond_sdk_ms": 61.0})  # 1.525x
    r["throughput"]["completed_runs_per_min"] = 16.9
    r["ingress"]["runs_started"] = 999  # one lost
    result = met(r)
    assert result["event_next_vs_hitl_p50"] is False and result["event_next_vs_hitl_p95"] is False
    assert result["event_wait_end_p50"] is False and result["event_wait_end_p95"] is True
    assert result["parked_p95_ratio"] is False
    assert result["parse_worst_ratio"] is False
    assert result["throughput_per_min"] is False
    assert result["ingress_per_s"] is False
    slow = run("20261205T000000Z")
    slow["ingress"]["latency_s"] = summary(0.2, 0.51)
    assert met(slow)["ingress_per_s"] is False
    refused = run("20261205T000000Z")
    refused["ingress"]["statuses"] = {"202": 999, "503": 1, "200": 1000}
    assert met(refused)["ingress_per_s"] is False


def test_a_figure_the_run_did_not_measure_is_not_applicable() -> None:
    r = run("20261205T000000Z")
    for key in ("parked", "parse", "throughput", "ingress"):
        del r[key]
    result = met(r)
    assert [k for k, v in result.items() if v is None] == [
        "parked_p95_ratio",
        "parse_worst_ratio",
        "throughput_per_min",
        "ingress_per_s",
    ]
    lines = targets.markdown_lines(r, earlier=[])
    assert sum("n/a (not measured in this run)" in line for line in lines) == 4


def test_each_figure_is_compared_with_the_last_run_that_measured_it(tmp_path: Path) -> None:
    older = run("20261201T000000Z")
    older["ingress"]["deliveries_per_s"] = 19.0
    newer_without_ingress = run("20261203T000000Z")
    del newer_without_ingress["ingress"]
    for r in (older, newer_without_ingress):
        (tmp_path / f"bench-{r['when']}.json").write_text(json.dumps(r))
    (tmp_path / "bench-20261209T000000Z.json").write_text(json.dumps(run("20261209T000000Z")))  # later: no

    earlier = targets.history("20261205T000000Z", tmp_path)
    assert [r["when"] for r in earlier] == ["20261203T000000Z", "20261201T000000Z"]
    lines = targets.markdown_lines(run("20261205T000000Z"), earlier)
    [ingress] = [line for line in lines if line.startswith("| 6. CRM burst")]
    assert "| 19.0 (20261201T000000Z) | 7.368x |" in ingress
    [throughput] = [line for line in lines if line.startswith("| 5.")]
    assert "(20261203T000000Z) | 1.0x |" in throughput


def test_the_command_prints_the_table_with_what_it_was_measured_on(tmp_path: Path) -> None:
    r = run("20261205T000000Z", code={"git": {"commit": "abc123"}, "airflow_version": "3.3.2"})
    r["machine"] = {"cpu_model": "Test CPU", "cpus": 2, "load_avg_start": [0.5, 0.4, 0.3]}
    path = tmp_path / "bench-20261205T000000Z.json"
    path.write_text(json.dumps(r))
    printed: list[str] = []

    assert targets.main([str(path)], out=printed.append) == 0

    assert "commit abc123, Airflow 3.3.2, Test CPU x2" in printed[0]
    assert "## Issue 17 targets" in printed[1]
