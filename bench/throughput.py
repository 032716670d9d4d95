"""Throughput (figure 6 of issue 6): partner_approval runs driven through every stage as fast as allowed.

A closed loop keeps `concurrency` runs in flight for `window_s` seconds. Each approval is answered as its
assigned user (PATCH hitlDetails) `min_answer_age_s` after it started waiting: Airflow 3.3.2 fails a HITL
task answered within ~1 s (AIRFLOW3_NOTES.md), so that is as fast as a machine may answer. The partner
accepts through the sandbox's events route (a signed webhook to /webhooks/events/partner) once the partner
wait is deferred. Completed runs per minute are counted after the first completion (the ramp-up of a closed
loop is one run long); the scheduler's loop durations logged during the window are summarised.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import psutil

from bench.harness import Bench, log, profiles_dir, py_spy_start, py_spy_top, scheduler_loops, summary

DAG = "partner_approval"
ASSIGNEE = {"manager_approval": "manager", "round_1.legal_review": "legal", "executive_approval": "executive"}
PARTNER_TASK = "round_1.partner_response"


def run(
    b: Bench,
    *,
    concurrency: int,
    window_s: float,
    min_answer_age_s: float = 1.5,
    finish_timeout_s: float = 30,
    profile_s: float = 0,
) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    counter = 0
    active: dict[str, dict[str, Any]] = {}
    finished: list[dict[str, Any]] = []
    answered: set[tuple[str, str]] = set()
    partner_sent: set[str] = set()
    errors: list[str] = []

    def start_one() -> None:
        nonlocal counter
        counter += 1
        request_id = f"tp-{tag}-{counter:04d}"
        run_id = f"bench__{request_id}"
        b.trigger(
            DAG,
            run_id,
            {"request_id": request_id, "partner_id": f"P-{tag}-{counter}", "requested_by": "bench"},
        )
        active[run_id] = {"request_id": request_id, "started": time.time()}

    log_path = b.log_path("scheduler")
    log_start = log_path.stat().st_size
    t0 = time.time()
    names = ("scheduler", "triggerer", "api-server", "dag-processor", "sandbox", "postgres")
    cpu0 = {name: b.cpu_seconds(name) for name in names}
    machine0 = psutil.cpu_times()
    for _ in range(concurrency):
        start_one()
    window_end = t0 + window_s
    spies: list[Any] = []
    profiled = False
    prof_dir = profiles_dir()
    log_end: int | None = None
    cpu: dict[str, float] = {}
    machine: dict[str, float] = {}
    while active and time.time() < window_end + finish_timeout_s:
        now = time.time()
        if log_end is None and now >= window_end:
            log_end = log_path.stat().st_size
            cpu = {name: round(b.cpu_seconds(name) - cpu0[name], 1) for name in cpu0}
            machine = _busy(machine0)
        if profile_s and not profiled and finished:
            # Steady state (one run finished): where the CPU goes, scheduler + workers + tasks, API server.
            prof_dir.mkdir(parents=True, exist_ok=True)
            spies = [
                py_spy_start(
                    b.component_proc(name).pid,
                    profile_s,
                    prof_dir / f"throughput-{name}.txt",
                    subprocesses=True,
                )
                for name in ("scheduler", "api-server")
            ]
            profiled = True
        run_ids = list(active)
        # Approvals waiting long enough to be answered.
        for run_id, task_id, created in b.q(
            "SELECT ti.run_id, ti.task_id, h.created_at FROM "
            "task_instance ti JOIN hitl_detail h ON h.ti_id = ti.id"
            " WHERE ti.dag_id = %s AND ti.state = 'awaiting_input' AND h.responded_at IS NULL"
            " AND ti.run_id = ANY(%s)",
            (DAG, run_ids),
        ):
            if (run_id, task_id) in answered or now - created.timestamp() < min_answer_age_s:
                continue
            user = ASSIGNEE.get(task_id, "admin")
            resp = b.api.answer(DAG, run_id, task_id, "Approve", user=user, comment="bench")
            if resp.status_code != 200:
                errors.append(f"{run_id}/{task_id}: {resp.status_code} {resp.text[:120]}")
            answered.add((run_id, task_id))
        # Partner waits parked: the partner accepts.
        for (run_id,) in b.q(
            "SELECT run_id FROM task_instance WHERE dag_id = %s AND task_id = %s"
            " AND state = 'deferred' AND run_id = ANY(%s)",
            (DAG, PARTNER_TASK, run_ids),
        ):
            if run_id in partner_sent:
                continue
            rid = active[run_id]["request_id"]
            resp = b.sandbox.post(
                "/_sandbox/events",
                json={
                    "source": "partner",
                    "event_id": f"{rid}-r1-accepted",
                    "type": "partner.accepted",
                    "correlation_key": f"partner_approval:{rid}:round:1",
                    "payload": {},
                },
            )
            if resp.status_code >= 300:
                errors.append(f"{run_id}/partner: {resp.status_code} {resp.text[:120]}")
            partner_sent.add(run_id)
        # Finished runs; keep the loop full while the window is open.
        for run_id, state, end in b.q(
            "SELECT run_id, state, end_date FROM dag_run WHERE dag_id = %s"
            " AND run_id = ANY(%s) AND state IN ('success', 'failed')",
            (DAG, run_ids),
        ):
            info = active.pop(run_id)
            finished.append(
                {
                    "run_id": run_id,
                    "state": state,
                    "end": end.timestamp(),
                    "duration_s": end.timestamp() - info["started"],
                }
            )
            if time.time() < window_end:
                start_one()
        time.sleep(0.25)
    if log_end is None:
        log_end = log_path.stat().st_size
        cpu = {name: round(b.cpu_seconds(name) - cpu0[name], 1) for name in cpu0}
        machine = _busy(machine0)
    for spy in spies:
        spy.wait(profile_s + 30)
    tasks = int(
        b.q(
            "SELECT count(*) FROM task_instance WHERE dag_id = %s AND run_id LIKE %s AND end_date"
            " BETWEEN to_timestamp(%s) AND to_timestamp(%s)",
            (DAG, f"bench__tp-{tag}-%", t0, window_end),
        )[0][0]
    )
    in_window = sorted(f["end"] for f in finished if f["end"] <= window_end and f["state"] == "success")
    first = in_window[0] if in_window else None
    measured = (window_end - first) if first else None
    count_after_first = len(in_window) - 1 if in_window else 0
    per_min = round(count_after_first / measured * 60, 2) if measured and measured > 0 else None
    ok = [f for f in finished if f["state"] == "success"]
    durations = [f["duration_s"] for f in ok]
    loops = scheduler_loops(log_path, log_start, log_end)
    result = {
        "concurrency": concurrency,
        "window_s": window_s,
        "min_answer_age_s": min_answer_age_s,
        "started": counter,
        "completed_success": len(ok),
        "failed": sum(1 for f in finished if f["state"] == "failed"),
        "still_running": len(active),
        "completed_in_window": len(in_window),
        "completed_runs_per_min": per_min,
        "littles_law_runs_per_min": round(concurrency / (sum(durations) / len(durations)) * 60, 2)
        if durations
        else None,
        "run_duration_s": summary(durations, 1),
        "scheduler_loop_ms": summary(loops, 1) | {"loops": len(loops)},
        "cpu_s_during_window": cpu,
        "machine_cpu_during_window": machine,
        "task_instances_ended_in_window": tasks,
        "cpu_s_per_task_instance": round(sum(cpu.values()) / tasks, 2) if tasks else None,
        "profile": {
            name: py_spy_top(prof_dir / f"throughput-{name}.txt") for name in ("scheduler", "api-server")
        }
        if profiled
        else None,
        "errors": errors[:10],
    }
    log(
        f"throughput: {per_min} runs/min ({len(ok)} ok, {result['failed']} failed), "
        f"run {result['run_duration_s'].get('p50')} s p50, scheduler loop p50 "
        f"{result['scheduler_loop_ms'].get('p50')} ms p95 {result['scheduler_loop_ms'].get('p95')} ms"
    )
    return result


def _busy(before: Any) -> dict[str, float]:
    """Machine-wide CPU since `before`: cores' worth busy, and of it, the share not ours is unknown here."""
    after = psutil.cpu_times()
    total = sum(after) - sum(before)
    idle = (after.idle + getattr(after, "iowait", 0)) - (before.idle + getattr(before, "iowait", 0))
    return {"busy_pct": round((1 - idle / total) * 100, 1) if total else 0.0}
