"""The targets of issue 17 ("Resume faster than Airflow's own approvals"), each computed from one benchmark
run and compared with the last run of the history (bench/results) that measured the same figure.

``python -m bench.targets [bench/results/<run>.json]`` prints the table (default: latest.json) with the
commit, Airflow version and CPU model it was measured on; ``make bench`` appends it to each run's report.
Every "met" cell is computed here from the measured figures; a figure the run did not measure is "n/a".
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

# The targets, each written once.
EVENT_END_P50_S, EVENT_END_P95_S = 0.1, 0.25  # 2: outside event -> waiting task ended
PARKED_MAX_CONNECTIONS, PARKED_MAX_P95_RATIO = 2, 1.5  # 3: N parked waits on one triggerer vs N=1
PARSE_MAX_RATIO_VS_FLOOR = 1.5  # 4: each DAG file's parse beyond the SDK vs a one-task DAG's
THROUGHPUT_BEFORE_PER_MIN, THROUGHPUT_FACTOR = 8.5, 2.0  # 5: partner_approval runs per minute
INGRESS_MIN_PER_S, INGRESS_MAX_P95_S = 100.0, 0.5  # 6: CRM burst


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    target: str
    value: float | None  # the figure the target is about (compared with the last run)
    shown: str  # how it is shown, with its context
    met: bool | None


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _get(d: Any, *path: Any) -> Any:
    for key in path:
        if isinstance(d, dict):
            d = d.get(key)
        elif isinstance(d, list) and isinstance(key, int) and -len(d) <= key < len(d):
            d = d[key]
        else:
            return None
    return d


def _le(a: Any, b: Any) -> bool | None:
    return (a <= b) if _num(a) and _num(b) else None


def _ratio(a: Any, b: Any) -> float | None:
    return round(a / b, 3) if _num(a) and _num(b) and b else None


def _resume(r: dict[str, Any]) -> dict[str, Any] | None:
    """The resume figures measured with the project's config (the last "after" step), else the "before"."""
    return _get(r, "after", -1, "resume") or r.get("resume")


def figures(r: dict[str, Any]) -> list[Figure]:
    out: list[Figure] = []
    res = _resume(r)
    ev_next, hitl_next = _get(res, "webhook_to_next_end"), _get(res, "hitl_to_next_end")
    for q in ("p50", "p95"):
        ratio = _ratio(_get(ev_next, q), _get(hitl_next, q))
        out.append(
            Figure(
                f"event_next_vs_hitl_{q}",
                f"1. outside event -> next task finished, {q}, vs native HITL answer -> next task (same run)",
                "ratio <= 1.0",
                ratio,
                f"{_get(ev_next, q)} s vs {_get(hitl_next, q)} s: {ratio}x",
                _le(ratio, 1.0),
            )
        )
    ev_end = _get(res, "webhook_to_wait_end")
    for q, limit in (("p50", EVENT_END_P50_S), ("p95", EVENT_END_P95_S)):
        value = _get(ev_end, q)
        out.append(
            Figure(
                f"event_wait_end_{q}",
                f"2. outside event -> waiting task ended, {q} (request sent -> task end_date)",
                f"<= {limit} s",
                value,
                f"{value} s (n={_get(ev_end, 'n')})",
                _le(value, limit),
            )
        )
    pk = r.get("parked")
    conns = _get(pk, "pg_connections_parked", "listener_app_name")
    p95_ratio = _get(pk, "p95_ratio_vs_n1")
    parked_ok = None
    if pk:
        parked_ok = bool(_le(conns, PARKED_MAX_CONNECTIONS)) and bool(_le(p95_ratio, PARKED_MAX_P95_RATIO))
        parked_ok = parked_ok and _get(pk, "running") == _get(pk, "n") and _get(pk, "triggerers_used") == 1
    out.append(
        Figure(
            "parked_p95_ratio",
            f"3. {_get(pk, 'n')} parked waits on one triggerer: Postgres connections, resume p95 vs N=1",
            f"<= {PARKED_MAX_CONNECTIONS} connections, p95 <= {PARKED_MAX_P95_RATIO}x N=1",
            p95_ratio,
            f"{conns} connections, p95 {_get(pk, 'webhook_to_wait_end', 'p95')} s vs "
            f"{_get(r, 'parked_n1', 'webhook_to_wait_end', 'p95')} s: {p95_ratio}x"
            f" ({_get(pk, 'running')} running on {_get(pk, 'triggerers_used')} triggerer(s))",
            parked_ok,
        )
    )
    ps = r.get("parse")
    floor = _get(ps, "floor_dag_beyond_sdk_ms")
    files = _get(ps, "files") or []
    ratios = {f["file"]: _ratio(f.get("beyond_sdk_ms"), floor) for f in files}
    worst = max(ratios.items(), key=lambda kv: kv[1] or 0, default=(None, None))
    over = sorted(f for f, x in ratios.items() if x is None or x > PARSE_MAX_RATIO_VS_FLOOR)
    out.append(
        Figure(
            "parse_worst_ratio",
            f"4. DAG parse beyond the SDK, worst of {len(files)} files vs a one-task DAG ({floor} ms)",
            f"each <= {PARSE_MAX_RATIO_VS_FLOOR}x",
            worst[1],
            f"worst {worst[0]} {worst[1]}x; over the target: {', '.join(over) or 'none'}",
            (not over) if files and _num(floor) else None,
        )
    )
    tp = r.get("throughput")
    per_min = _get(tp, "completed_runs_per_min")
    target_tp = THROUGHPUT_BEFORE_PER_MIN * THROUGHPUT_FACTOR
    out.append(
        Figure(
            "throughput_per_min",
            f"5. partner_approval runs completed per minute ({_get(tp, 'concurrency')} in flight)",
            f">= {target_tp:g}/min ({THROUGHPUT_FACTOR:g}x {THROUGHPUT_BEFORE_PER_MIN}/min)",
            per_min,
            f"{per_min}/min",
            (per_min >= target_tp) if _num(per_min) else None,
        )
    )
    ing = r.get("ingress")
    rate, p95 = _get(ing, "deliveries_per_s"), _get(ing, "latency_s", "p95")
    exact = ing is not None and _get(ing, "runs_started") == _get(ing, "runs_expected")
    accepted = ing is not None and set(_get(ing, "statuses") or {}) <= {"200", "202"}
    out.append(
        Figure(
            "ingress_per_s",
            f"6. CRM burst: {_get(ing, 'events')} events x{_get(ing, 'copies')} from "
            f"{_get(ing, 'senders')} senders",
            f">= {INGRESS_MIN_PER_S:g}/s, p95 <= {INGRESS_MAX_P95_S} s, all accepted, one run per event",
            rate,
            f"{rate}/s, p50 {_get(ing, 'latency_s', 'p50')} s, p95 {p95} s, answers {_get(ing, 'statuses')},"
            f" runs {_get(ing, 'runs_started')}/{_get(ing, 'runs_expected')} (all started "
            f"{_get(ing, 'all_runs_started_after_s')} s after the burst began)",
            (bool(_le(INGRESS_MIN_PER_S, rate)) and bool(_le(p95, INGRESS_MAX_P95_S)) and exact and accepted)
            if ing
            else None,
        )
    )
    return out


def history(before: str, results_dir: Path = RESULTS) -> list[dict[str, Any]]:
    """The runs of the history measured before the run ``before`` (its ``when``), newest first."""
    runs = []
    for path in sorted(results_dir.glob("bench-*.json"), reverse=True):
        stamp = path.stem.removeprefix("bench-")
        if stamp < before:
            try:
                runs.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
    return runs


def _last(key: str, earlier: list[dict[str, Any]]) -> tuple[float | None, str | None]:
    for run in earlier:
        for fig in figures(run):
            if fig.key == key and _num(fig.value):
                return fig.value, str(run.get("when"))
    return None, None


def markdown_lines(r: dict[str, Any], earlier: list[dict[str, Any]] | None = None) -> list[str]:
    earlier = history(str(r.get("when", "")), RESULTS) if earlier is None else earlier
    lines = [
        "",
        "## Issue 17 targets",
        "",
        "| figure | measured | target | met | last run with it | change |",
        "|---|---|---|---|---|---|",
    ]
    for fig in figures(r):
        last, when = _last(fig.key, earlier)
        change = _ratio(fig.value, last)
        met = "n/a" if fig.met is None else ("yes" if fig.met else "**no**")
        lines.append(
            f"| {fig.label} | {fig.shown if _num(fig.value) else 'n/a (not measured in this run)'} "
            f"| {fig.target} | {met} | {f'{last} ({when})' if when else 'none'} "
            f"| {f'{change}x' if change else 'n/a'} |"
        )
    return lines


def main(argv: list[str] | None = None, out: Callable[[str], Any] = print) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else RESULTS / "latest.json"
    r = json.loads(path.read_text())
    code, machine = r.get("code") or {}, r.get("machine") or {}
    out(
        f"# {path.name}: run {r.get('when')} ({r.get('mode')}), commit {_get(code, 'git', 'commit')}, "
        f"Airflow {code.get('airflow_version')}, {machine.get('cpu_model')} x{machine.get('cpus')}, "
        f"load average {machine.get('load_avg_start')}"
    )
    out("\n".join(markdown_lines(r)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
