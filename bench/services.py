"""Latency of the short-lived workflows as services (issue 12, part A), through their HTTP routes in the
live API server (the plugin's /services app behind Airflow's auth, a bearer token from /auth/token).

For each route, against the spec's budget (lead scoring < 5 s, trust score < 5 s, audit write < 1 s, health
< 1 s, dashboard < 5 s with 100,000 workflows in the tables, seeded by ``bench.services_seed``):

- cold: the first request(s) to the route in an API server process that just started (a restart per
  sample; the app's lifespan warm-up has run, nothing else): 1 caller, and 8 callers at once;
- warm: after a few requests, ``n`` requests by 1 caller and ``n`` each by 8 concurrent callers.

Every request does the real work: a lead or trust subject never seen before (the LLM is asked, the row
written), a new audit event id, the dashboard over the seeded tables, every dependency probed. Latency is
client-side: request sent -> answer read. A non-2xx answer is counted as an error, not a sample.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from typing import Any

import httpx

from bench import services_seed
from bench.harness import Bench, business_url, log, summary
from devtools.stack import Stack

# The spec's budgets (workflow-inventory.md), seconds: a "met" cell compares each p95 with these.
BUDGETS_S = {
    "lead_scoring": 5.0,
    "trust_score": 5.0,
    "audit_write": 1.0,
    "health": 1.0,
    "dashboard": 5.0,
    # Part B (bench.services_text); knowledge retrieval (< 3 s) runs there, at 10k and 100k chunks.
    "message_classification": 2.0,
    "dialect_detection": 1.0,
}
DASHBOARD_WORKFLOWS = 100_000
CONCURRENCY = 8
WARM_UP_REQUESTS = 3
SERVICE_USER = "ep_service"

Request = tuple[str, str, dict[str, Any] | None]


def request_for(route: str, run: str, i: int) -> Request:
    """The ``i``-th request of ``route``: distinct data each time, so every request does the real work."""
    key = f"{run}-{i}"
    if route == "lead_scoring":
        return (
            "POST",
            "/services/lead-scores",
            {
                "lead_id": f"bench-lead-{key}",
                "company_name": f"Bench {i}",
                "company_size": 20 + i % 900,
                "industry": ("fintech", "mining", "software")[i % 3],
                "source": ("referral", "inbound", "event")[i % 3],
                "engagement": {"replies": i % 4, "meetings": i % 2, "emails_opened": i % 7},
                "notes": f"Budget: approved {10 + i % 90}k USD.\nTimeline: start in {1 + i % 11} weeks.\n"
                "Decision maker: the COO.\nNeed: replacing spreadsheets for partner payouts.",
            },
        )
    if route == "trust_score":
        return (
            "POST",
            "/services/trust-scores",
            {
                "subject_type": "partner",
                "subject_id": f"bench-partner-{key}",
                "payments": {"invoices": 10 + i % 5, "paid_on_time": 8, "paid_late": 1 + i % 2},
                "compliance_flags": [{"code": "kyc-refresh", "severity": "low", "resolved": i % 2 == 0}],
                "deal_ids": [f"bench-deal-{key}"],
            },
        )
    if route == "audit_write":
        return (
            "POST",
            "/services/audit-events",
            {
                "event_id": f"bench-{key}",
                "component": "bench",
                "actor": SERVICE_USER,
                "action": "bench.measured",
                "details": {"i": i, "run": run},
            },
        )
    if route in ("message_classification", "dialect_detection", "retrieval"):
        from bench import services_text

        return services_text.request_for(route, key, i)
    if route == "health":
        return ("GET", "/services/health", None)
    if route == "dashboard":
        return ("GET", "/services/dashboard", None)
    raise KeyError(route)


def _timed(client: httpx.Client, req: Request) -> tuple[float, int]:
    method, path, body = req
    started = time.perf_counter()
    response = client.request(method, path, json=body)
    response.read()
    return time.perf_counter() - started, response.status_code


def _requests(
    base_url: str, token: str, route: str, run: str, *, callers: int, per_caller: int
) -> tuple[list[float], dict[str, int]]:
    """``callers`` threads, each with its own keep-alive client, ``per_caller`` requests each, all started
    together (a client is built before the start: its connection is opened by its first request); returns
    the latencies (s) of the 2xx answers and the count of every other status."""
    samples: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(callers)

    def caller(c: int) -> None:
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            barrier.wait()
            for k in range(per_caller):
                seconds, status = _timed(client, request_for(route, run, c * per_caller + k))
                with lock:
                    if 200 <= status < 300:
                        samples.append(seconds)
                    else:
                        errors[str(status)] = errors.get(str(status), 0) + 1

    threads = [threading.Thread(target=caller, args=(c,)) for c in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples, errors


def measure(
    base_url: str, token: str, route: str, run: str, *, callers: int, per_caller: int
) -> dict[str, Any]:
    samples, errors = _requests(base_url, token, route, run, callers=callers, per_caller=per_caller)
    return {**summary(samples), "callers": callers, "errors": errors}


def restart_api_server(b: Bench) -> float:
    """A fresh API server process on the same port; returns seconds until it answers its health check."""
    started = time.monotonic()
    owner = next(s for s in [*b.extra_stacks[::-1], b.stack] if "api-server" in s.procs)
    proc = owner.procs.pop("api-server")
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    fresh = Stack(b.setup, log_dir=b.log_dir)
    fresh.start_component("api-server")
    b.extra_stacks.append(fresh)
    fresh.wait_http(f"{b.stack.api_url}/api/v2/monitor/health", "Airflow API server", 180)
    return time.monotonic() - started


def cold(b: Bench, token: str, route: str, run: str, callers: int, rounds: int) -> dict[str, Any]:
    """The first ``callers`` requests to ``route`` (all at once) after each of ``rounds`` API server
    restarts."""
    samples: list[float] = []
    errors: dict[str, int] = {}
    restarts = []
    for r in range(rounds):
        restarts.append(round(restart_api_server(b), 1))
        got, failed = _requests(
            b.stack.api_url, token, route, f"{run}-c{callers}-{r}", callers=callers, per_caller=1
        )
        samples += got
        for code, k in failed.items():
            errors[code] = errors.get(code, 0) + k
    return {**summary(samples), "callers": callers, "errors": errors, "api_server_restart_s": restarts}


def run(b: Bench, n: int, cold_rounds: int, workflows: int = DASHBOARD_WORKFLOWS) -> dict[str, Any]:
    log(f"services: seeding {workflows:,} workflows for the dashboard")
    seeded = services_seed.seed(business_url(), workflows)
    log(f"services: seeded {seeded['rows']} in {seeded['seconds']} s")
    token = b.stack.token(SERVICE_USER)
    run_id = uuid.uuid4().hex[:8]
    results: dict[str, Any] = {"seeded": seeded, "n": n, "cold_rounds": cold_rounds, "routes": {}}
    try:
        for route, budget in BUDGETS_S.items():
            log(f"services: {route} (budget {budget} s)")
            figures: dict[str, Any] = {"budget_s": budget}
            figures["cold_1"] = cold(b, token, route, run_id, 1, cold_rounds)
            figures["cold_8"] = cold(b, token, route, run_id, CONCURRENCY, cold_rounds)
            measure(b.stack.api_url, token, route, f"{run_id}-warmup", callers=1, per_caller=WARM_UP_REQUESTS)
            figures["warm_1"] = measure(
                b.stack.api_url, token, route, f"{run_id}-w1", callers=1, per_caller=n
            )
            figures["warm_8"] = measure(
                b.stack.api_url, token, route, f"{run_id}-w8", callers=CONCURRENCY, per_caller=n
            )
            if route == "dashboard":
                figures["server_query_ms"] = _dashboard_queries(b.stack.api_url, token)
            results["routes"][route] = figures
            log(f"services: {route} {_line(figures)}")
    finally:
        services_seed.clear(business_url())
        _clear_bench_rows(run_id)
    return results


def _dashboard_queries(base_url: str, token: str) -> dict[str, float]:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        return dict(c.get("/services/dashboard").json()["query_ms"])


def _clear_bench_rows(run_id: str) -> None:
    """The measured requests' own rows (audit_log rows stay: the chain is append-only)."""
    import psycopg2

    conn = psycopg2.connect(business_url())
    try:
        with conn, conn.cursor() as cur:
            cur.execute("DELETE FROM lead_scores WHERE lead_key LIKE %s", (f"bench-lead-{run_id}%",))
            cur.execute("DELETE FROM trust_scores WHERE subject_id LIKE %s", (f"bench-partner-{run_id}%",))
            cur.execute("DELETE FROM audit_events WHERE event_id LIKE %s", (f"bench-{run_id}%",))
    finally:
        conn.close()
    from bench import services_text

    services_text.clear_rows(business_url(), run_id)


def _line(f: dict[str, Any]) -> str:
    def pp(s: dict[str, Any]) -> str:
        return f"p50 {s.get('p50')} / p95 {s.get('p95')} (n={s.get('n')}, errors {s.get('errors')})"

    return "; ".join(f"{k} {pp(f[k])}" for k in ("cold_1", "cold_8", "warm_1", "warm_8"))


# ------------------------------------------------------------------------------------------- report
CELLS = (
    ("cold_1", "cold, 1 caller"),
    ("cold_8", "cold, 8 at once"),
    ("warm_1", "warm, 1 caller"),
    ("warm_8", "warm, 8 callers"),
)


def cell_met(figures: dict[str, Any], cell: str) -> bool | None:
    """p95 within the route's budget and no failed request; None (n/a) when nothing was measured."""
    s = figures.get(cell) or {}
    p95 = s.get("p95")
    if not isinstance(p95, int | float) or isinstance(p95, bool) or not s.get("n"):
        return None
    return p95 <= figures["budget_s"] and not s.get("errors")


def route_met(figures: dict[str, Any]) -> bool | None:
    verdicts = [cell_met(figures, cell) for cell, _ in CELLS]
    if any(v is None for v in verdicts):
        return None
    return all(verdicts)


def markdown_lines(sv: dict[str, Any] | None) -> list[str]:
    """The services section of the report: each route's figures and its "met" cells, computed here."""
    if not sv:
        return []
    from bench.report import _met, _pp

    seeded = (sv.get("seeded") or {}).get("rows") or {}
    lines = [
        "",
        "## Services (issue 12, part A): latency through the HTTP routes",
        "",
        f"Client-side, through the live API server with a bearer token. Cold: first request(s) after an API "
        f"server restart ({sv['cold_rounds']} restart(s) per cell); warm: {sv['n']} requests per caller "
        f"after {WARM_UP_REQUESTS}. Dashboard over {seeded.get('saga_workflows', 'n/a')} seeded workflows "
        f"({seeded.get('approval_requests', 'n/a')} approvals, {seeded.get('pending_approvals', 'n/a')} "
        f"pending; {seeded.get('lead_scores', 'n/a')} leads; {seeded.get('outside_calls', 'n/a')} outside "
        "calls). Met: p95 within the budget and no failed request.",
        "",
        "| route | budget | " + " | ".join(label for _, label in CELLS) + " | met |",
        "|---|---|" + "---|" * len(CELLS) + "---|",
    ]
    for route, f in sv["routes"].items():
        cells = []
        for cell, _ in CELLS:
            s = f.get(cell) or {}
            errors = s.get("errors")
            cells.append(f"{_pp(s)}{f', errors {errors}' if errors else ''} ({_met(cell_met(f, cell))})")
        lines.append(
            f"| {route} | < {f['budget_s']:g} s | " + " | ".join(cells) + f" | {_met(route_met(f))} |"
        )
    dash = (sv["routes"].get("dashboard") or {}).get("server_query_ms")
    if dash:
        lines += [
            "",
            "Dashboard queries, server side (ms): " + ", ".join(f"{k} {v}" for k, v in dash.items()),
        ]
    return lines
