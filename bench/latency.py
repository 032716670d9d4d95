"""Resume latency: signed webhook accepted -> wait ended -> next task finished, beside native HITL and a poke
sensor (figures 1 and 2 of issue 6).

Both paths are parked first (N runs each), then resumed one at a time, alternating webhook and HITL samples
so both see the same machine noise. Latencies are measured from the moment the HTTP answer (202 of the
webhook ingress, 200 of the HITL PATCH) is received to the task instances' `end_date` in the metadata DB.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from bench.harness import Bench, log, ratio, summary

EVENT_DAG = "bench_event_wait"
HITL_DAG = "bench_hitl"
POKE_DAG = "bench_poke"


def _ids(prefix: str, n: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [f"{prefix}_{tag}_{i:04d}" for i in range(n)]


def warm_up(b: Bench) -> None:
    """One webhook run end to end: the listener connects on the first wait of a fresh triggerer (slow)."""
    run_id = _ids("warm", 1)[0]
    b.trigger(EVENT_DAG, run_id)
    b.wait_until("warm-up trigger running", lambda: b.running_triggers(EVENT_DAG, [run_id]), 60, 0.1)
    started = time.monotonic()
    b.wait_until("listener connected", lambda: b.triggerer_pg_connections()["listener_app_name"], 180, 0.2)
    log(f"warm-up: listener connected {time.monotonic() - started:.1f} s after the first wait started")
    b.webhook(f"bench:{run_id}")
    b.wait_ti(EVENT_DAG, run_id, "after", ("success",), timeout=120)


def park(b: Bench, n: int) -> tuple[list[str], list[str]]:
    waits, approvals = _ids("wh", n), _ids("hitl", n)
    b.trigger_many(EVENT_DAG, waits)
    b.trigger_many(HITL_DAG, approvals)
    b.wait_until(
        f"{n} webhook waits running in the triggerer", lambda: b.running_triggers(EVENT_DAG, waits) >= n, 180
    )
    b.wait_until(
        f"{n} approvals awaiting input",
        lambda: b.count_tis(HITL_DAG, approvals, "approve", "awaiting_input") >= n,
        240,
    )
    # The triggerer creates a trigger up to ~1 s after it claimed it; Airflow 3.3.2 fails a HITL task answered
    # within ~1 s of awaiting_input (see AIRFLOW3_NOTES.md): both are settled after 2 s.
    time.sleep(2)
    return waits, approvals


def resume(b: Bench, n: int, label: str) -> dict[str, Any]:
    """n webhook and n HITL resumes, alternating. Returns the four latency summaries and the raw values."""
    log(f"[{label}] parking {n} webhook waits and {n} HITL approvals")
    waits, approvals = park(b, n)
    raw: dict[str, list[float]] = {
        "webhook_to_wait_end": [],
        "webhook_to_next_end": [],
        "hitl_to_approval_end": [],
        "hitl_to_next_end": [],
    }
    jitter = random.Random(5)
    for i in range(n):
        # A random phase against the triggerer's fixed 1 s sync cycle and the scheduler's idle sleep.
        time.sleep(jitter.uniform(0, 1))
        accepted = b.webhook(f"bench:{waits[i]}")
        _, _, ended = b.wait_ti(EVENT_DAG, waits[i], "wait", ("success",), timeout=120)
        _, _, nxt = b.wait_ti(EVENT_DAG, waits[i], "after", ("success",), timeout=120)
        raw["webhook_to_wait_end"].append((ended or 0) - accepted)
        raw["webhook_to_next_end"].append((nxt or 0) - accepted)
        time.sleep(jitter.uniform(0, 1))
        answered = b.answer(HITL_DAG, approvals[i], "approve")
        _, _, ended = b.wait_ti(HITL_DAG, approvals[i], "approve", ("success",), timeout=120)
        _, _, nxt = b.wait_ti(HITL_DAG, approvals[i], "after", ("success",), timeout=120)
        raw["hitl_to_approval_end"].append((ended or 0) - answered)
        raw["hitl_to_next_end"].append((nxt or 0) - answered)
        if (i + 1) % 10 == 0:
            log(f"[{label}] {i + 1}/{n} pairs")
    rows = b.q(
        "SELECT count(*) FROM task_instance WHERE dag_id = %s AND task_id = 'wait' AND run_id = ANY(%s)"
        " AND coalesce(hostname, '') <> ''",
        (EVENT_DAG, waits),
    )
    workers_used = int(rows[0][0])
    out = {k: summary(v) for k, v in raw.items()}
    out["ratio_p50_part1_webhook_vs_hitl"] = ratio(
        out["webhook_to_wait_end"]["p50"], out["hitl_to_approval_end"]["p50"]
    )
    out["ratio_p50_part2_webhook_vs_hitl"] = ratio(
        out["webhook_to_next_end"]["p50"], out["hitl_to_next_end"]["p50"]
    )
    out["waits_that_touched_a_worker"] = workers_used
    out["raw"] = {k: [round(x, 4) for x in v] for k, v in raw.items()}
    return out


def poke(b: Bench, n: int, spread_s: float = 30.0) -> dict[str, Any]:
    """n poke-sensor runs (30 s interval, reschedule); events sent spread over one interval."""
    runs = _ids("poke", n)
    b.trigger_many(POKE_DAG, runs, workers=2)
    b.wait_until(
        f"{n} poke sensors rescheduled once",
        lambda: b.count_tis(POKE_DAG, runs, "wait", "up_for_reschedule") >= n,
        120,
    )
    sent: dict[str, float] = {}
    for i, run_id in enumerate(runs):
        sent[run_id] = b.webhook(f"bench:{run_id}")
        if i < n - 1:
            time.sleep(spread_s / n)
    to_end, to_next = [], []
    for run_id in runs:
        _, _, ended = b.wait_ti(POKE_DAG, run_id, "wait", ("success",), timeout=120, interval=0.2)
        _, _, nxt = b.wait_ti(POKE_DAG, run_id, "after", ("success",), timeout=120, interval=0.2)
        to_end.append((ended or 0) - sent[run_id])
        to_next.append((nxt or 0) - sent[run_id])
    return {
        "webhook_to_wait_end": summary(to_end),
        "webhook_to_next_end": summary(to_next),
        "raw": {"webhook_to_wait_end": [round(x, 3) for x in to_end]},
    }
