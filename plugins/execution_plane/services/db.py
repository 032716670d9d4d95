"""The business database (connection ``execution_plane_db``) for the services: one small lazy pool per
process, used the same way by a route in the API server and by a task calling the same service.

Created on first use, never at import (every Airflow component imports the plugin). psycopg2's
``ThreadedConnectionPool`` raises instead of waiting when it is exhausted, so a semaphore makes callers
queue for a connection; none free within ``CHECKOUT_TIMEOUT_S`` is a 503, as is a database that stays
unreachable after one retry on a fresh connection (a restarted Postgres leaves dead ones in the pool).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg2
from psycopg2.pool import ThreadedConnectionPool

from execution_plane.services.errors import ServiceError

log = logging.getLogger(__name__)

CONN_ID = "execution_plane_db"
MAX_CONNECTIONS = 8
CHECKOUT_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 5

T = TypeVar("T")

_pool: ThreadedConnectionPool | None = None
_pool_lock = threading.Lock()
_slots = threading.BoundedSemaphore(MAX_CONNECTIONS)


def _connect_kwargs() -> dict[str, Any]:
    from execution_plane.services import connections

    conn = connections.get(CONN_ID)
    kwargs: dict[str, Any] = {
        "host": conn.host,
        "port": conn.port or 5432,
        "dbname": conn.schema,
        "user": conn.login,
        "connect_timeout": CONNECT_TIMEOUT_S,
        "application_name": "ep-services",
    }
    if conn.password:
        kwargs["password"] = conn.password
    return kwargs


def _get_pool() -> ThreadedConnectionPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadedConnectionPool(0, MAX_CONNECTIONS, **_connect_kwargs())
        return _pool


def close_pool() -> None:
    """Close every pooled connection (tests, benchmarks; in a server they close with the process)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.closeall()
            _pool = None


def _attempt(work: Callable[[Any], T]) -> T:
    pool = _get_pool()
    conn = pool.getconn()
    broken = False
    try:
        with conn.cursor() as cur:
            result = work(cur)
        conn.commit()
        return result
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        broken = True
        raise
    except BaseException:
        conn.rollback()
        raise
    finally:
        pool.putconn(conn, close=broken or bool(conn.closed))


def transaction(work: Callable[[Any], T]) -> T:
    """Run ``work(cursor)`` in one transaction and commit; ``work`` must be idempotent (it runs once more
    on a fresh connection when the first one turns out dead)."""
    if not _slots.acquire(timeout=CHECKOUT_TIMEOUT_S):
        raise ServiceError(503, "busy", "too many concurrent requests; retry later")
    try:
        try:
            return _attempt(work)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as first:
            log.warning("business database connection lost (%s); retrying once", type(first).__name__)
        try:
            return _attempt(work)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            log.exception("business database unavailable")
            raise ServiceError(
                503, "unavailable", "the business database is unavailable; retry later"
            ) from None
    finally:
        _slots.release()


def record_outside_call(
    cur: Any, *, system: str, source: str, ok: bool, latency_ms: float, detail: str | None
) -> None:
    """One call to an outside system, for the dashboard's error rates."""
    cur.execute(
        "INSERT INTO outside_calls (system, source, ok, latency_ms, detail) VALUES (%s, %s, %s, %s, %s)",
        (system, source, ok, latency_ms, (detail or "")[:300] or None),
    )
