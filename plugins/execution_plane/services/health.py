"""Health check, the one implementation behind ``GET /services/health`` and the health_check DAG's steps.

Probes the business database and every outside system the workflows reach, through their Airflow
connections (exactly as the workflows do), and summarizes them with ``include.services.health``. A probe
never raises: failing to answer is its finding.

The route runs every probe at once and answers within ``ROUTE_DEADLINE_S`` whatever happens: a probe
still running then is reported failed ("no answer within ..."), so a hung dependency makes the health
check say so instead of making it slow. The DAG probes with ``DAG_TIMEOUT_S`` per probe and records each
outside system's result in ``outside_calls`` (the dashboard's error rates).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from execution_plane.services import connections, db
from include.services.health import HealthReport, Probe, summarize

BUSINESS_DB = "execution_plane_db"
# Outside systems whose outage stops a durable workflow from making progress.
CRITICAL_HTTP = (
    "crm_default",
    "esign_default",
    "email_default",
    "whatsapp_default",
    "sms_default",
    "docstore_default",
)
# Reached by some workflows only; their outage degrades, it does not stop everything.
OPTIONAL_HTTP = ("calcom_default", "llm_default", "research_default", "financials_default")

DAG_TIMEOUT_S = 5.0
ROUTE_DEADLINE_S = 0.8  # the spec's budget is 1 s; the rest is authentication and the answer

_executor: ThreadPoolExecutor | None = None
_client: Any = None
_lazy_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lazy_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ep-health-probe")
        return _executor


def _http() -> Any:
    """One HTTP client for every probe of the process: building one loads the CA bundle (tens of ms of CPU
    each), which ten probes at once would pay ten times on every check."""
    global _client
    import httpx

    with _lazy_lock:
        if _client is None:
            _client = httpx.Client(limits=httpx.Limits(max_connections=32, max_keepalive_connections=16))
        return _client


def _probe(service: str, critical: bool, started: float, ok: bool, detail: str) -> Probe:
    latency = (time.perf_counter() - started) * 1000
    return Probe(service=service, ok=ok, latency_ms=latency, detail=detail[:300], critical=critical)


def probe_postgres(conn_id: str = BUSINESS_DB, *, timeout_s: float = DAG_TIMEOUT_S) -> Probe:
    """A fresh connection and ``SELECT 1`` (not the services' pool: the probe checks the server answers)."""
    started = time.perf_counter()
    try:
        import psycopg2

        conn_info = connections.get(conn_id)
        from execution_plane.pgpool import connect_kwargs

        conn = psycopg2.connect(
            # libpq's connect_timeout floor is 2 s
            **connect_kwargs(conn_info, "ep-health-probe", connect_timeout=max(2, round(timeout_s))),
            options=f"-c statement_timeout={int(timeout_s * 1000)}",
        )
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchone()
        finally:
            conn.close()
        ok, detail = True, "SELECT 1 answered"
    except Exception as exc:  # any failure to answer is the probe's finding, not a crash
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return _probe(conn_id, True, started, ok, detail)


def probe_http(conn_id: str, *, critical: bool, timeout_s: float = DAG_TIMEOUT_S) -> Probe:
    """Reachable = the provider answered HTTP below 500 (4xx on the bare base URL still proves it is up)."""
    started = time.perf_counter()
    try:
        conn = connections.get(conn_id)
        host = conn.host or ""
        base = host if "://" in host else f"{conn.schema or 'https'}://{host}"
        resp = _http().get(base, timeout=timeout_s, headers={"Authorization": f"Bearer {conn.password}"})
        ok, detail = resp.status_code < 500, f"HTTP {resp.status_code}"
    except Exception as exc:  # unreachable is the finding
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return _probe(conn_id, critical, started, ok, detail)


def _gather(calls: list[tuple[str, bool, Callable[[], Probe]]], deadline_s: float | None) -> list[Probe]:
    started = time.perf_counter()
    futures: list[tuple[str, bool, Future[Probe]]] = [
        (name, critical, _pool().submit(call)) for name, critical, call in calls
    ]
    wait([f for _, _, f in futures], timeout=deadline_s)
    probes = []
    for name, critical, future in futures:
        if future.done():
            probes.append(future.result())
        else:
            elapsed = (time.perf_counter() - started) * 1000
            probes.append(
                Probe(
                    service=name,
                    ok=False,
                    latency_ms=elapsed,
                    detail=f"no answer within {elapsed:.0f} ms",
                    critical=critical,
                )
            )
    return probes


def _http_calls(timeout_s: float) -> list[tuple[str, bool, Callable[[], Probe]]]:
    return [
        (conn_id, critical, functools.partial(probe_http, conn_id, critical=critical, timeout_s=timeout_s))
        for critical, conns in ((True, CRITICAL_HTTP), (False, OPTIONAL_HTTP))
        for conn_id in conns
    ]


def probe_outside_systems(
    *, timeout_s: float = DAG_TIMEOUT_S, deadline_s: float | None = None
) -> list[Probe]:
    """Every outside system at once; each probe has ``timeout_s``, all of them ``deadline_s``."""
    return _gather(_http_calls(timeout_s), deadline_s)


def check(*, deadline_s: float = ROUTE_DEADLINE_S) -> HealthReport:
    """The business database and every outside system, all at once, answered within ``deadline_s``."""
    calls: list[tuple[str, bool, Callable[[], Probe]]] = [
        (BUSINESS_DB, True, lambda: probe_postgres(BUSINESS_DB, timeout_s=deadline_s))
    ]
    calls += _http_calls(deadline_s)
    return summarize(_gather(calls, deadline_s))


def record(report: HealthReport, *, source: str = "health_check") -> None:
    """Store each outside system's probe in ``outside_calls`` (the business database is not outside)."""

    def write(cur: Any) -> None:
        for p in report.probes:
            if p.service != BUSINESS_DB:
                db.record_outside_call(
                    cur, system=p.service, source=source, ok=p.ok, latency_ms=p.latency_ms, detail=p.detail
                )

    db.transaction(write)
