"""`python -m bench.executors [--quick]`: CeleryExecutor vs LocalExecutor, resume latency and throughput.

The same measurements as `bench.run`'s `resume` and `throughput` sections (bench/latency.py,
bench/throughput.py), taken on one stack of each executor, one after the other in the same run (same
machine, same databases, same DAGs): the LocalExecutor of config/airflow.cfg, then CeleryExecutor with
EP_CELERY_WORKERS workers (default 2) on the machine's Redis (devtools.env.executor_env). `make bench` runs
it after `bench.run`, on the bench profile. Writes bench/results/executors-<time>.json and .md, copied to
executors-latest.json / .md.

Resume latency: a parked run's signed webhook accepted (202) -> its wait ended in the triggerer -> the next
task finished on a worker; an approval answered (PATCH hitlDetails, 200) -> the gate's task finished -> the
next task finished. Throughput: partner_approval runs driven through every stage, `tp_concurrency` in flight
for `tp_window_s` seconds, completed runs per minute.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import harness, latency, throughput
from bench.harness import RESULTS, Bench, log

QUICK = {"resume_n": 12, "tp_concurrency": 6, "tp_window_s": 90.0}
FULL = {"resume_n": 30, "tp_concurrency": 6, "tp_window_s": 240.0}
EXECUTORS = ("local", "celery")
LATENCIES = ("webhook_to_wait_end", "webhook_to_next_end", "hitl_to_approval_end", "hitl_to_next_end")
THROUGHPUT = (
    "completed_runs_per_min",
    "completed_success",
    "failed",
    "run_duration_s",
    "task_instances_ended_in_window",
    "cpu_s_per_task_instance",
    "errors",
)


@contextmanager
def executor(name: str) -> Any:
    """EP_EXECUTOR=name for the stacks started inside (devtools reads it when it builds their environment)."""
    saved = os.environ.get("EP_EXECUTOR")
    os.environ["EP_EXECUTOR"] = name
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("EP_EXECUTOR", None)
        else:
            os.environ["EP_EXECUTOR"] = saved


def measure(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Start a stack on executor ``name``, measure, stop it."""
    with executor(name):
        harness.clear_leftovers()
        b = Bench()
        try:
            start_s = b.start()
            log(f"[{name}] stack up in {start_s:.0f} s ({', '.join(b.stack.components)})")
            latency.warm_up(b)
            resumed = latency.resume(b, int(cfg["resume_n"]), name)
            log(f"[{name}] throughput: {cfg['tp_concurrency']} runs in flight for {cfg['tp_window_s']:.0f} s")
            tp = throughput.run(b, concurrency=int(cfg["tp_concurrency"]), window_s=float(cfg["tp_window_s"]))
            env = b.setup.env
        finally:
            b.stop()
    return {
        "executor": env.get("AIRFLOW__CORE__EXECUTOR", "the shipped BoundedLocalExecutor"),
        "celery_workers": int(env.get("EP_CELERY_WORKERS", "0")),
        "celery_worker_concurrency": int(env.get("AIRFLOW__CELERY__WORKER_CONCURRENCY", "0")),
        "stack_start_s": round(start_s, 1),
        "resume": {k: resumed[k] for k in LATENCIES},
        "throughput": {k: tp[k] for k in THROUGHPUT},
    }


def markdown(results: dict[str, Any]) -> str:
    local, celery = results["local"], results["celery"]
    lines = [
        f"# Celery vs Local ({results['when']}, {results['mode']})",
        "",
        f"Machine: {results['cpus']} CPUs, load average {results['load_avg_start']} at the start (other "
        "work ran on it: figures are contended). Celery: "
        f"{celery['celery_workers']} workers x {celery['celery_worker_concurrency']} slots, Redis broker.",
        "",
        "| resume latency, p50 / p95 s | LocalExecutor | CeleryExecutor |",
        "|---|---|---|",
    ]
    for key in LATENCIES:
        cells = [f"{r['resume'][key].get('p50')} / {r['resume'][key].get('p95')}" for r in (local, celery)]
        lines.append(f"| {key} (n={local['resume'][key].get('n')}) | {cells[0]} | {cells[1]} |")
    lines += ["", "| throughput | LocalExecutor | CeleryExecutor |", "|---|---|---|"]
    for key in (
        "completed_runs_per_min",
        "completed_success",
        "failed",
        "task_instances_ended_in_window",
        "cpu_s_per_task_instance",
    ):
        lines.append(f"| {key} | {local['throughput'][key]} | {celery['throughput'][key]} |")
    lines.append(
        f"| run duration p50 s | {local['throughput']['run_duration_s'].get('p50')} | "
        f"{celery['throughput']['run_duration_s'].get('p50')} |"
    )
    lines.append(f"| stack start s | {local['stack_start_s']} | {celery['stack_start_s']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.executors", description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller N (what `make bench` runs)")
    for key, value in FULL.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=None)
    # `make bench` passes its BENCH_ARGS (bench.run's options) here too: the ones not above are bench.run's.
    args, _ = p.parse_known_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    for key in cfg:
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results: dict[str, Any] = {
        "when": stamp,
        "mode": "quick" if args.quick else "full",
        "config": cfg,
        "cpus": os.cpu_count(),
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
    }
    started = time.monotonic()
    for name in EXECUTORS:
        log(f"executor comparison: {name}")
        results[name] = measure(name, cfg)
    results["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    results["duration_s"] = round(time.monotonic() - started, 1)
    write(results, stamp)
    print(markdown(results))
    return 0


def write(results: dict[str, Any], stamp: str, results_dir: Path = RESULTS) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / f"executors-{stamp}.json"
    md_path = results_dir / f"executors-{stamp}.md"
    json_path.write_text(json.dumps(results, indent=2))
    md_path.write_text(markdown(results))
    shutil.copyfile(json_path, results_dir / "executors-latest.json")
    shutil.copyfile(md_path, results_dir / "executors-latest.md")
    log(f"written: {md_path}")


if __name__ == "__main__":
    sys.exit(main())
