"""`python -m bench.run [--quick]`: every benchmark of issue 6, each beside its baseline in the same run.

Runs on its own profile (EP_PROFILE=bench: own Airflow home, own databases, by default on an embedded
Postgres) after `python -m devtools setup` prepared it; see bench/README.md. Writes
bench/results/bench-<time>.json and .md, and copies them to latest.json / latest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    harness,
    ingress,
    latency,
    ledger,
    parked,
    parked_workflows,
    parse,
    provenance,
    report,
    services,
    services_text,
    throughput,
    ui_page,
    workflows_e2e,
)
from bench.harness import RESULTS, Bench, log, profiles_dir
from devtools import env as ep_env
from devtools.stack import read_state

# What the issue compares us with (DBOS 3.4 on Postgres 15, measured on a machine like this one).
DBOS = {
    "message_to_resumed_done_p50_s": 0.0058,
    "parked_1000_mib": 46,
    "parked_pg_connections_max": 21,
    "trivial_step_ms": 1.7,
}

FULL = {
    "resume_n": 50,
    "poke_n": 4,
    "n1_samples": 15,
    "parked_n": 1000,
    "parked_samples": 20,
    "naive_n": 200,
    "tp_concurrency": 6,
    "tp_window_s": 240,
    "after_n": 25,
    "parse_reps": 5,
    "ledger_1": 2000,
    "ledger_8": 500,
    "profile_s": 30,
    # Parked durable workflows (bench/parked_workflows.py): the curve's points, resumes per point, the burst.
    "pw_points": "0,100,1000,3000,10000",
    # Real parked workflows up to this many; past it, copies of two of them (bench/parked_workflows.py).
    "pw_real_max": 3000,
    "pw_samples": 12,
    "pw_burst": 1000,
    "pw_burst_resumes": 10,
    # Services (bench/services.py): warm requests per caller, API server restarts per cold cell.
    "svc_n": 30,
    "svc_cold_rounds": 3,
    # The Workflows page (bench/ui_page.py): workflows in the tables, samples per request.
    "ui_workflows": 100_000,
    "ui_samples": 20,
    # The ingress under a CRM burst (bench/ingress.py): distinct events, each delivered twice, by 20 senders.
    "ingress_events": 1000,
    "ingress_senders": 20,
    # End to end of each durable and medium workflow (bench/workflows_e2e.py): which ones ("all" or a list),
    # and the seconds after which the section starts no more of them.
    "e2e_workflows": "all",
    "e2e_budget_s": 3600,
}
QUICK = {
    "resume_n": 20,
    "poke_n": 3,
    "n1_samples": 10,
    "parked_n": 1000,
    "parked_samples": 10,
    "naive_n": 200,
    "tp_concurrency": 6,
    "tp_window_s": 120,
    "after_n": 12,
    "parse_reps": 3,
    "ledger_1": 1000,
    "ledger_8": 250,
    "profile_s": 20,
    "pw_points": "0,100,1000,3000,10000",
    "pw_real_max": 1000,
    "pw_samples": 10,
    "pw_burst": 1000,
    "pw_burst_resumes": 8,
    "svc_n": 15,
    "svc_cold_rounds": 1,
    "ui_workflows": 100_000,
    "ui_samples": 10,
    "ingress_events": 1000,
    "ingress_senders": 20,
    "e2e_workflows": "all",
    "e2e_budget_s": 2400,
}

# The config change measured before/after. The scheduler sleeps this long after a loop that found nothing
# to do: a task the triggerer or an answer ended waits up to that long before its downstream task is even
# queued. Airflow's default is 1 s; the project sets 0.1 s (config/airflow.cfg).
IDLE_SLEEP = "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"
AIRFLOW_DEFAULT_IDLE_SLEEP = "1"
# "before": Airflow's default, the scheduler restarted with it for the figures up to the "after" step.
BEFORE_ENV = {IDLE_SLEEP: AIRFLOW_DEFAULT_IDLE_SLEEP}
# "after": env overrides on top of the project's config; {} is the project's config itself (the last one is
# what the throughput figure runs with). Full mode also measures a value in between.
AFTER_ENVS: dict[str, list[dict[str, str]]] = {
    "full": [{IDLE_SLEEP: "0.25"}, {}],
    "quick": [{}],
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller N everywhere (what `make bench` runs)")
    p.add_argument(
        "--only",
        default="",
        help="comma list of: parse,ledger,resume,poke,parked,naive,throughput,after,workflows,services,ui,"
        "ingress,e2e (default: all)",
    )
    for key, value in FULL.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=None)
    p.add_argument(
        "--keep-postgres",
        action="store_true",
        help="leave the bench profile's embedded Postgres running afterwards",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if ep_env.profile() != "bench" and not os.environ.get("BENCH_ALLOW_PROFILE"):
        # Leftover runs are failed and thousands of runs started: never on a profile someone else uses.
        raise SystemExit(
            f"EP_PROFILE={ep_env.profile()}: run the benchmarks with EP_PROFILE=bench "
            "(`make bench`), or set BENCH_ALLOW_PROFILE=1 for a profile nobody else uses"
        )
    cfg = dict(QUICK if args.quick else FULL)
    for key in cfg:
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    only = {s for s in args.only.split(",") if s}
    want = lambda name: not only or name in only  # noqa: E731
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    state = read_state()
    # Task-side modules (execution_plane.*) as the stack's processes see them, with the bench's Airflow home.
    sys.path.insert(0, str(ep_env.REPO / "plugins"))
    sys.path.append(str(ep_env.REPO / "dags"))  # the workflows' packages, as the DAG bundle makes them
    os.environ["AIRFLOW_HOME"] = str(state["env"]["AIRFLOW_HOME"])  # type: ignore[index]
    postgres_kind = str(state["postgres"]["kind"])  # type: ignore[index]
    results = header(stamp, "quick" if args.quick else "full", cfg, postgres_kind)
    process_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))},
        **state["env"],
    }  # type: ignore[dict-item]

    if want("parse"):
        log("DAG parse")
        results["parse"] = parse.run(ep_env.REPO / "dags", process_env, ep_env.REPO, cfg["parse_reps"])
    if want("ledger"):
        log("idempotent step cost")
        results["ledger"] = ledger.run(harness.business_url(), cfg["ledger_1"], cfg["ledger_8"])

    live = {"resume", "poke", "parked", "naive", "throughput", "after", "workflows", "services"}
    live |= {"ui", "ingress", "e2e"}
    if not only or only & live:
        harness.clear_leftovers()
        pw_max = max(int(n) for n in str(cfg["pw_points"]).split(",")) + int(cfg["pw_burst"])
        capacity = max(1000, cfg["parked_n"] + 200, cfg["naive_n"] + 200, pw_max + 200)
        b = Bench({"AIRFLOW__TRIGGERER__CAPACITY": str(capacity)})
        results["stack"] = {"triggerer_capacity": capacity}
        try:
            results["stack"]["start_s"] = round(b.start(), 1)
            log(f"stack up in {results['stack']['start_s']} s: {b.stack.api_url}")
            run_live(b, cfg, want, results, results["mode"])
        except BaseException as exc:
            # A section that raises must not lose the sections measured before it (it did: a services run's
            # figures were only in the terminal): write them, marked as an aborted run, then fail as before.
            results["aborted"] = f"{type(exc).__name__}: {exc}"[:1000]
            results["duration_s"] = round(time.monotonic() - started, 1)
            write(results, stamp)
            raise
        finally:
            b.stop()
            log("stack stopped")
    if state["postgres"]["kind"] == "embedded" and not args.keep_postgres:  # type: ignore[index]
        stop_embedded_postgres(state)
    results["machine"]["load_avg_end"] = os.getloadavg()
    results["duration_s"] = round(time.monotonic() - started, 1)
    write(results, stamp)
    log(f"done in {results['duration_s']:.0f} s")
    return 0


def header(stamp: str, mode: str, cfg: dict[str, Any], postgres: str) -> dict[str, Any]:
    """The part of a result that says what was measured on: settings, machine, code and Airflow version."""
    found = provenance.collect(ep_env.REPO)
    return {
        "when": stamp,
        "mode": mode,
        "config": cfg,
        "dbos_reference": DBOS,
        "code": {"git": found["git"], "airflow_version": found["airflow_version"]},
        "machine": {
            "cpu_model": found["cpu_model"],
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgres": postgres,
            "load_avg_start": os.getloadavg(),
        },
    }


def idle_sleep(b: Bench, env: dict[str, str]) -> str:
    """The scheduler_idle_sleep_time a scheduler started with `env` over the project's config runs with."""
    return {**ep_env.shipped_settings(), **b.setup.env, **env}.get(IDLE_SLEEP, AIRFLOW_DEFAULT_IDLE_SLEEP)


def run_live(b: Bench, cfg: dict[str, Any], want: Any, results: dict[str, Any], mode: str) -> None:
    scheduler_env: dict[str, str] = {}  # the running scheduler's overrides of the project's config
    if want("resume"):
        # The "before" of the config comparison is Airflow's default, not the project's config: the
        # scheduler is restarted with it, and keeps it until the "after" step (poke, parked and naive too).
        log(f"config before (Airflow's default): {BEFORE_ENV}")
        b.restart_component("scheduler", BEFORE_ENV)
        scheduler_env = BEFORE_ENV
        results["before_env"] = BEFORE_ENV
        results["project_idle_sleep"] = idle_sleep(b, {})
    latency.warm_up(b)
    if want("resume"):
        results["idle_scheduler_cpu_before"] = idle_cpu(b)
        results["resume"] = latency.resume(b, cfg["resume_n"], "before")
        results["resume_profile"] = profile_resume(b, cfg["profile_s"])
    if want("poke"):
        log(f"poke sensor baseline: {cfg['poke_n']} runs")
        results["poke"] = latency.poke(b, cfg["poke_n"])
    if want("parked"):
        # A fresh triggerer: its memory before the waits is the baseline (Python keeps freed memory).
        restart_s = b.restart_component("triggerer")
        first = parked.warm(b, parked.PARKED_DAG)
        results["triggerer_restart"] = {"restart_s": round(restart_s, 1), "first_wait_s": round(first, 1)}
        log(f"fresh triggerer: first wait started -> ended {first:.1f} s")
        results["parked_n1"] = parked.single(b, cfg["n1_samples"])
        res = parked.park(
            b,
            parked.PARKED_DAG,
            cfg["parked_n"],
            samples=cfg["parked_samples"],
            # Each wait is deferred by a worker task (as the shipped DAGs park): ~0.5 s of a worker slot each.
            park_timeout=max(600, cfg["parked_n"] * 0.8),
            drain_timeout=max(300, cfg["parked_n"] * 0.3),
            label="parked",
        )
        res["p95_ratio_vs_n1"] = parked.compare(results["parked_n1"], res)
        results["parked"] = res
    if want("naive"):
        b.restart_component("triggerer")
        parked.warm(b, parked.NAIVE_DAG)
        results["naive"] = parked.park(
            b, parked.NAIVE_DAG, cfg["naive_n"], samples=5, park_timeout=300, drain_timeout=300, label="naive"
        )
    if want("after"):
        results["after"] = []
        for env in AFTER_ENVS[mode]:
            log(f"config after: {env or 'the project config'} ({IDLE_SLEEP}={idle_sleep(b, env)})")
            b.restart_component("scheduler", env)
            scheduler_env = env
            latency.warm_up(b)
            results["after"].append(
                {
                    "env": env,
                    "effective_env": {IDLE_SLEEP: idle_sleep(b, env)},
                    "idle_scheduler_cpu": idle_cpu(b),
                    "resume": latency.resume(b, cfg["after_n"], "after"),
                }
            )
    if want("workflows"):
        if scheduler_env:
            b.restart_component("scheduler", {})
            scheduler_env = {}
        points = [int(n) for n in str(cfg["pw_points"]).split(",")]
        log(
            f"parked durable workflows: points {points} (real up to {cfg['pw_real_max']}, copies beyond),"
            f" burst {cfg['pw_burst']}"
        )
        results["parked_workflows"] = parked_workflows.run(
            b, points, cfg["pw_samples"], cfg["pw_burst"], cfg["pw_burst_resumes"], cfg["pw_real_max"]
        )
    if want("services"):
        log(f"services: {cfg['svc_n']} warm requests per caller, {cfg['svc_cold_rounds']} cold round(s)")
        results["services"] = services.run(b, cfg["svc_n"], cfg["svc_cold_rounds"])
        log("services: knowledge retrieval at 10k and 100k chunks")
        results["services_retrieval"] = services_text.run(b, cfg["svc_n"], cfg["svc_cold_rounds"])
    if want("ui"):
        log(f"Workflows page: {cfg['ui_workflows']:,} workflows, {cfg['ui_samples']} samples per request")
        results["ui_page"] = ui_page.run(b, cfg["ui_workflows"], cfg["ui_samples"])
    if want("ingress"):
        results["ingress"] = ingress.run(b, cfg["ingress_events"], senders=cfg["ingress_senders"])
    if want("e2e"):
        if scheduler_env:  # the project's config
            b.restart_component("scheduler", {})
            scheduler_env = {}
        names = None if cfg["e2e_workflows"] == "all" else str(cfg["e2e_workflows"]).split(",")
        log(f"end to end, instant answers: {names or 'every durable and medium workflow'}")
        results["workflows_e2e"] = {}  # filled as each workflow ends: an aborted run keeps them
        workflows_e2e.run(b, names, budget_s=cfg["e2e_budget_s"], out=results["workflows_e2e"])
    if want("throughput"):
        if scheduler_env:  # the project's config, whatever ran before
            b.restart_component("scheduler", {})
            scheduler_env = {}
        # Last: runs still in flight when the window closes are left to the stack's stop (and the next
        # session's clear_leftovers) instead of being waited for.
        log(f"throughput: partner_approval x{cfg['tp_concurrency']} for {cfg['tp_window_s']} s")
        results["throughput"] = throughput.run(
            b, concurrency=cfg["tp_concurrency"], window_s=cfg["tp_window_s"], profile_s=cfg["profile_s"]
        )
        results["throughput"]["scheduler_env"] = {IDLE_SLEEP: idle_sleep(b, scheduler_env)}


def idle_cpu(b: Bench, seconds: float = 10) -> dict[str, float]:
    """CPU share of the scheduler (its process tree) while nothing runs."""
    time.sleep(3)
    c0, t0 = b.cpu_seconds("scheduler"), time.monotonic()
    time.sleep(seconds)
    share = (b.cpu_seconds("scheduler") - c0) / (time.monotonic() - t0)
    return {"scheduler_cpu_pct_of_one_core": round(share * 100, 1)}


def profile_resume(b: Bench, seconds: float) -> dict[str, Any]:
    """py-spy on the scheduler (with its LocalExecutor workers) and the triggerer while webhook resumes run:
    what the ~1-2 s between `webhook accepted` and `next task finished` is spent on."""
    out_dir = profiles_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    sched = out_dir / "resume-scheduler.txt"
    trig = out_dir / "resume-triggerer.txt"
    spies = [
        harness.py_spy_start(b.component_proc("scheduler").pid, seconds, sched, subprocesses=True),
        harness.py_spy_start(b.component_proc("triggerer").pid, seconds, trig, subprocesses=True),
    ]
    deadline = time.monotonic() + seconds
    samples = 0
    while time.monotonic() < deadline - 4:
        run_id = f"prof_{samples}_{int(time.time())}"
        b.trigger(latency.EVENT_DAG, run_id)
        b.wait_until(
            "profile wait running", lambda r=run_id: b.running_triggers(latency.EVENT_DAG, [r]), 60, 0.05
        )
        time.sleep(1.0)
        b.webhook(f"bench:{run_id}")
        b.wait_ti(latency.EVENT_DAG, run_id, "after", ("success",), timeout=60)
        samples += 1
    for spy in spies:
        spy.wait(seconds + 30)
    return {
        "samples": samples,
        "scheduler_and_workers": harness.py_spy_top(sched, 12),
        "triggerer": harness.py_spy_top(trig, 6),
        "seconds": seconds,
        "files": [str(p.relative_to(ep_env.REPO)) for p in (sched, trig)],
    }


def stop_embedded_postgres(state: dict[str, Any]) -> None:
    from devtools.postgres import EmbeddedPostgres

    url = state["postgres"]["url"]
    port = int(url.rsplit(":", 1)[1])
    datadir = Path(os.environ.get("EP_EMBEDDED_PG_DIR", ep_env.LOCAL / "pgdata"))
    if (datadir / "postmaster.pid").exists():
        EmbeddedPostgres(datadir, port).stop()
        log(f"embedded Postgres on {port} stopped")


def write(results: dict[str, Any], stamp: str, results_dir: Path = RESULTS) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / f"bench-{stamp}.json"
    md_path = results_dir / f"bench-{stamp}.md"
    json_path.write_text(json.dumps(results, indent=2, default=str))
    try:
        md_path.write_text(report.markdown(results))
    except Exception as exc:  # the JSON above holds every figure; a report bug must not lose the run
        log(f"markdown report failed ({type(exc).__name__}: {exc}); results are in {json_path.name}")
        return
    shutil.copyfile(json_path, results_dir / "latest.json")
    shutil.copyfile(md_path, results_dir / "latest.md")
    log(f"results: {md_path} (+ .json, latest.*)")


if __name__ == "__main__":
    raise SystemExit(main())
