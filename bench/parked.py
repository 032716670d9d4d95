"""Parked waits (figure 3 of issue 6): N runs waiting on an outside event at once, on ONE triggerer.

The waits are parked as the shipped DAGs park theirs: a worker runs the sensor, which registers the wait and
defers; the triggerer carries it and ends the task itself (`end_task`), so no worker resumes it. Measured at
N: triggers running (and on how many triggerers), Postgres backends held by the triggerer's process tree
(by database and application_name), PSS/RSS of that tree against the idle tree, and the resume latency of
a sample of waits (event filed into the inbox -> task end_date: the triggerer's path, as the status pollers
file events; the webhook would end them itself) against the same with a single parked wait. The rest are
then ended together by one INSERT into the inbox (one NOTIFY each), and the drain time is reported.

Baseline: `bench_naive_parked`, the same wait on a trigger that opens its own connection per wait.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any

from bench.harness import LISTENER_APP_PREFIX, NAIVE_APP_PREFIX, Bench, log, pg_backend_pss, ratio, summary

PARKED_DAG = "bench_parked"
NAIVE_DAG = "bench_naive_parked"


def _ids(prefix: str, n: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [f"{prefix}_{tag}_{i:05d}" for i in range(n)]


def _file_event(b: Bench, run_id: str) -> float:
    """File the event into the inbox as the status pollers do (``execution_plane.inbox``: an INSERT whose
    NOTIFY wakes the trigger); returns the time.time() of the commit. Not through the webhook: the ingress
    ends a registered wait itself, and this figure is the triggerer's (how it holds N waits)."""
    b.q(
        "INSERT INTO external_events (event_id, source, event_type, correlation_key, payload)"
        " VALUES (%s, 'bench', 'bench.go', %s, '{}'::jsonb)",
        (f"bench:inbox:{run_id}", f"bench:{run_id}"),
        db="biz",
    )
    return time.time()


def _sample(b: Bench, dag_id: str, run_ids: list[str], seed: int = 11) -> list[float]:
    out = []
    jitter = random.Random(seed)
    for run_id in run_ids:
        # The triggerer's runner syncs on a fixed 1 s cycle: a random phase, not one locked to it.
        time.sleep(jitter.uniform(0, 1))
        filed = _file_event(b, run_id)
        _, _, ended = b.wait_ti(dag_id, run_id, "wait", ("success",), timeout=180)
        out.append((ended or 0) - filed)
    return out


def single(b: Bench, k: int) -> dict[str, Any]:
    """Resume latency with one parked wait at a time (N=1), k samples."""
    values = []
    for run_id in _ids("n1", k):
        b.trigger(PARKED_DAG, run_id)
        b.wait_until("single wait running", lambda r=run_id: b.running_triggers(PARKED_DAG, [r]), 60, 0.05)
        time.sleep(1.0)  # the runner creates a claimed trigger within ~1 s
        values.extend(_sample(b, PARKED_DAG, [run_id], seed=len(values)))
    return {"webhook_to_wait_end": summary(values), "raw": [round(x, 4) for x in values]}


def _drain(b: Bench, dag_id: str, run_ids: list[str], timeout: float) -> dict[str, Any]:
    """End every remaining wait with one INSERT (a NOTIFY per row at COMMIT); time until all tasks ended."""
    started = time.monotonic()
    b.q(
        "INSERT INTO external_events (event_id, source, event_type, correlation_key, payload)"
        " SELECT 'bench:drain:' || r, 'bench', 'bench.go', "
        "'bench:' || r, '{}'::jsonb FROM unnest(%s::text[]) r"
        " ON CONFLICT DO NOTHING",
        (run_ids,),
        db="biz",
    )
    inserted = time.monotonic()
    ended_tasks = None
    deadline = started + timeout
    done = 0
    while time.monotonic() < deadline:
        done = b.count_tis(dag_id, run_ids, "wait", "success")
        if done >= len(run_ids) and ended_tasks is None:
            ended_tasks = time.monotonic() - started
            break
        time.sleep(0.5)
    return {
        "n": len(run_ids),
        "insert_s": round(inserted - started, 3),
        "all_tasks_ended_s": round(ended_tasks, 1) if ended_tasks else None,
        "ended_within_timeout": done,
        "timeout_s": timeout,
    }


def _wait_runs_finished(b: Bench, dag_id: str, run_ids: list[str], timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() < started + timeout:
        rows = b.q(
            "SELECT count(*) FROM dag_run WHERE dag_id = %s AND run_id = ANY(%s)"
            " AND state IN ('running', 'queued')",
            (dag_id, run_ids),
        )
        if int(rows[0][0]) == 0:
            return time.monotonic() - started
        time.sleep(1)
    return None


def warm(b: Bench, dag_id: str) -> float:
    """One wait of `dag_id` end to end on a fresh triggerer, so the idle baseline already holds what the
    first wait loads once (trigger module, the triggerer's in-process API client, the listener)."""
    started = time.monotonic()
    run_id = _ids("warm", 1)[0]
    b.trigger(dag_id, run_id)
    b.wait_until("warm-up wait running", lambda: b.running_triggers(dag_id, [run_id]), 120, 0.1)
    time.sleep(1.0)
    _sample(b, dag_id, [run_id])
    return time.monotonic() - started


def park(
    b: Bench, dag_id: str, n: int, *, samples: int, park_timeout: float, drain_timeout: float, label: str
) -> dict[str, Any]:
    time.sleep(2)
    idle_mem = b.memory("triggerer")
    idle_conns = b.triggerer_pg_connections()
    run_ids = _ids(label, n)
    log(f"[{label}] triggering {n} runs of {dag_id}")
    trigger_s = b.trigger_many(dag_id, run_ids, workers=4)
    log(
        f"[{label}] {n} runs triggered in {trigger_s:.1f} s "
        f"({n / trigger_s:.0f}/s); waiting for the triggerer"
    )
    started = time.monotonic()
    running = 0
    last_log = started
    while time.monotonic() < started + park_timeout:
        running = b.running_triggers(dag_id, run_ids)
        if running >= n:
            break
        if time.monotonic() - last_log > 30:
            log(f"[{label}] {running}/{n} waits running in the triggerer")
            last_log = time.monotonic()
        time.sleep(1)
    parked_s = time.monotonic() - started
    time.sleep(3)  # let the runner create the last claimed triggers and the listener register them
    triggerers = b.q(
        "SELECT count(DISTINCT t.triggerer_id) FROM task_instance ti JOIN trigger t"
        " ON t.id = ti.trigger_id WHERE ti.dag_id = %s AND ti.run_id = ANY(%s)",
        (dag_id, run_ids),
    )
    mem = b.memory("triggerer")
    conns = b.triggerer_pg_connections()
    backends_pss = pg_backend_pss(b, NAIVE_APP_PREFIX if dag_id == NAIVE_DAG else LISTENER_APP_PREFIX)
    out: dict[str, Any] = {
        "n": n,
        "dag_id": dag_id,
        "trigger_rest_s": round(trigger_s, 1),
        "all_running_s": round(parked_s, 1) if running >= n else None,
        "running": running,
        "triggerers_used": int(triggerers[0][0]),
        "pg_connections_idle": idle_conns,
        "pg_connections_parked": conns,
        "memory_idle": idle_mem,
        "memory_parked": mem,
        "pg_backends_for_waits_pss_mib": backends_pss,
        "pss_mib_per_1000_waits": round((mem["pss_mib"] - idle_mem["pss_mib"]) / max(running, 1) * 1000, 1),
        "rss_mib_per_1000_waits": round((mem["rss_mib"] - idle_mem["rss_mib"]) / max(running, 1) * 1000, 1),
    }
    log(
        f"[{label}] {running}/{n} running after {parked_s:.0f} s; conns {json.dumps(conns['by_db_app'])};"
        f" PSS {idle_mem['pss_mib']} -> {mem['pss_mib']} MiB"
    )
    remaining = list(run_ids)
    if samples and running >= n:
        chosen = random.Random(7).sample(run_ids, min(samples, n))
        values = _sample(b, dag_id, chosen)
        out["webhook_to_wait_end"] = summary(values)
        out["raw"] = [round(x, 4) for x in values]
        remaining = [r for r in run_ids if r not in set(chosen)]
    out["drain"] = _drain(b, dag_id, remaining, drain_timeout)
    log(f"[{label}] drain: {out['drain']}")
    finished = _wait_runs_finished(b, dag_id, run_ids, drain_timeout)
    out["runs_finished_after_drain_s"] = round(finished, 1) if finished is not None else None
    return out


def compare(single_n1: dict[str, Any], at_n: dict[str, Any]) -> float | None:
    return ratio(
        (at_n.get("webhook_to_wait_end") or {}).get("p95"), single_n1["webhook_to_wait_end"].get("p95")
    )
