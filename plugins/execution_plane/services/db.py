"""The business database (connection ``execution_plane_db``) for the services: one small lazy pool per
process, used the same way by a route in the API server and by a task calling the same service.

Created on first use, never at import (``execution_plane.pgpool``): none of its 8 connections free within
5 s is a 503 ``busy``, a database still unreachable after one retry on a fresh connection (a restarted
Postgres leaves dead ones in the pool) a 503 ``unavailable``.
"""

from __future__ import annotations

from typing import Any

from execution_plane.pgpool import RetryingPool, connect_kwargs
from execution_plane.services.errors import ServiceError

CONN_ID = "execution_plane_db"


def _connect_kwargs() -> dict[str, Any]:
    from execution_plane.services import connections

    return connect_kwargs(connections.get(CONN_ID), "ep-services")


POOL = RetryingPool(
    "business database",
    _connect_kwargs,
    busy=lambda: ServiceError(503, "busy", "too many concurrent requests; retry later"),
    unavailable=lambda _: ServiceError(
        503, "unavailable", "the business database is unavailable; retry later"
    ),
)
transaction = POOL.transaction
"""Run ``work(cursor)`` in one transaction and commit (``execution_plane.pgpool.RetryingPool``)."""
close_pool = POOL.close


def record_outside_call(
    cur: Any, *, system: str, source: str, ok: bool, latency_ms: float, detail: str | None
) -> None:
    """One call to an outside system, for the dashboard's error rates."""
    cur.execute(
        "INSERT INTO outside_calls (system, source, ok, latency_ms, detail) VALUES (%s, %s, %s, %s, %s)",
        (system, source, ok, latency_ms, (detail or "")[:300] or None),
    )
