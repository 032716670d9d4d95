"""The business database (connection ``execution_plane_db``) from the API server: a small lazy pool.

The pool is created on first use, never at import (the plugin is imported by every Airflow component).
``psycopg2``'s ``ThreadedConnectionPool`` raises instead of waiting when it is exhausted, so a semaphore
makes callers queue for a connection and answer 503 only when none frees up in time.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg2
from psycopg2.pool import ThreadedConnectionPool

from execution_plane import inbox
from execution_plane.webhooks.credentials import get_connection
from execution_plane.webhooks.errors import WebhookError

log = logging.getLogger(__name__)

CONN_ID = "execution_plane_db"
MAX_CONNECTIONS = 8
CHECKOUT_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 5

T = TypeVar("T")

_pool: ThreadedConnectionPool | None = None
_pool_lock = threading.Lock()
_slots = threading.BoundedSemaphore(MAX_CONNECTIONS)


def connect_kwargs(conn: Any) -> dict[str, Any]:
    """psycopg2 keyword arguments for an Airflow postgres connection (no password when it has none)."""
    kwargs: dict[str, Any] = {
        "host": conn.host,
        "port": conn.port or 5432,
        "dbname": conn.schema,
        "user": conn.login,
        "connect_timeout": CONNECT_TIMEOUT_S,
        "application_name": "ep-webhook-ingress",
    }
    if conn.password:
        kwargs["password"] = conn.password
    return kwargs


def _get_pool() -> ThreadedConnectionPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadedConnectionPool(0, MAX_CONNECTIONS, **connect_kwargs(get_connection(CONN_ID)))
        return _pool


def close_pool() -> None:
    """Close every pooled connection (tests; in the API server they close with the process)."""
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
    except Exception:
        conn.rollback()
        raise
    finally:
        # A connection that lost its server is dropped, not handed to the next request.
        pool.putconn(conn, close=broken or bool(conn.closed))


def run_in_transaction(work: Callable[[Any], T]) -> T:
    """Run ``work(cursor)`` in one transaction and commit.

    ``work`` must be idempotent: after a lost connection (a Postgres restart leaves dead connections in
    the pool) it runs once more on a fresh one.
    """
    if not _slots.acquire(timeout=CHECKOUT_TIMEOUT_S):
        raise WebhookError(503, "busy", "too many concurrent deliveries; retry later")
    try:
        try:
            return _attempt(work)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as first:
            log.warning("business database connection lost (%s); retrying once", type(first).__name__)
        try:
            return _attempt(work)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            log.exception("business database unavailable")
            raise WebhookError(
                503, "unavailable", "the business database is unavailable; retry later"
            ) from None
    finally:
        _slots.release()


def insert_external_event(
    event_id: str, source: str, event_type: str, correlation_key: str, payload: dict[str, Any]
) -> bool:
    """Store one event in the inbox (``execution_plane.inbox``); False when ``event_id`` is already there."""
    return run_in_transaction(
        lambda cur: inbox.insert_event(cur, event_id, source, event_type, correlation_key, payload)
    )


def start_requested(event_id: str) -> str | None:
    """The dag id a start request stored under ``event_id`` asked for, if one is stored."""

    def work(cur: Any) -> str | None:
        cur.execute("SELECT dag_id FROM run_starts WHERE event_id = %s", (event_id,))
        row = cur.fetchone()
        return None if row is None else str(row[0])

    return run_in_transaction(work)


def insert_start_request(
    event_id: str,
    correlation_key: str,
    payload: dict[str, Any],
    *,
    event_type: str,
    dag_id: str,
    run_id: str,
    conf: dict[str, Any],
) -> str | None:
    """Store a request to start ``dag_id`` (``run_starts``, for the starter) and its event (the inbox, source
    ``crm``) in one transaction. None when it is new; else the dag id ``event_id`` already asked for (the
    same: a redelivery, stored again only where the first delivery's inbox row is missing)."""

    def work(cur: Any) -> str | None:
        cur.execute(
            "INSERT INTO run_starts (event_id, dag_id, run_id, conf) VALUES (%s, %s, %s, %s::jsonb)"
            " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            (event_id, dag_id, run_id, json.dumps(conf)),
        )
        if cur.fetchone() is not None:
            earlier = None
        else:
            cur.execute("SELECT dag_id FROM run_starts WHERE event_id = %s", (event_id,))
            earlier = str(cur.fetchone()[0])
        if earlier in (None, dag_id):
            inbox.insert_event(cur, event_id, "crm", event_type, correlation_key, payload)
        return earlier

    return run_in_transaction(work)
