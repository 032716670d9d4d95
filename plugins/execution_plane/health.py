"""Service probes for the health_check workflow (task-side code; reads Airflow connections)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from include.domain.health_check import Probe, summarize


def probe_postgres(conn_id: str) -> dict[str, Any]:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    started = time.perf_counter()
    try:
        PostgresHook(postgres_conn_id=conn_id).get_first("SELECT 1")
        ok, detail = True, "SELECT 1 answered"
    except Exception as exc:  # any failure to answer is the probe's finding, not a task crash
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:300]
    return _probe(conn_id, ok, started, detail, critical=True)


def probe_http(conn_id: str, *, critical: bool, timeout_s: float = 5.0) -> dict[str, Any]:
    """Reachable = the provider answered HTTP below 500 (4xx on the bare base URL still proves it is up)."""
    from airflow.sdk import BaseHook

    started = time.perf_counter()
    try:
        conn = BaseHook.get_connection(conn_id)
        host = conn.host or ""
        base = host if "://" in host else f"{conn.schema or 'https'}://{host}"
        resp = httpx.get(base, timeout=timeout_s, headers={"Authorization": f"Bearer {conn.password}"})
        ok, detail = resp.status_code < 500, f"HTTP {resp.status_code}"
    except Exception as exc:  # unreachable is the finding
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:300]
    return _probe(conn_id, ok, started, detail, critical=critical)


def _probe(service: str, ok: bool, started: float, detail: str, *, critical: bool) -> dict[str, Any]:
    return {
        "service": service,
        "ok": ok,
        "latency_ms": (time.perf_counter() - started) * 1000,
        "detail": detail,
        "critical": critical,
    }


def summarize_or_fail(results: list[dict[str, Any]]) -> dict[str, object]:
    report = summarize([Probe(**r) for r in results])
    if report.status == "unhealthy":
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"unhealthy: {', '.join(report.failing)} failing; {report.as_dict()}")
    return report.as_dict()
