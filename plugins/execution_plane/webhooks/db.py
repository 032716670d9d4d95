"""The business database (connection ``execution_plane_db``) from the API server: a small lazy pool.

The pool (``execution_plane.pgpool``) is created on first use, never at import (the plugin is imported by
every Airflow component); callers queue for one of its 8 connections and get a 503 only when none frees up
within 5 s or the database stays unreachable after one retry on a fresh connection.
"""

from __future__ import annotations

import json
from typing import Any

from execution_plane import inbox
from execution_plane.pgpool import RetryingPool, connect_kwargs
from execution_plane.webhooks.credentials import get_connection
from execution_plane.webhooks.errors import WebhookError

CONN_ID = "execution_plane_db"


POOL = RetryingPool(
    "business database",
    lambda: connect_kwargs(get_connection(CONN_ID), "ep-webhook-ingress"),
    busy=lambda: WebhookError(503, "busy", "too many concurrent deliveries; retry later"),
    unavailable=lambda _: WebhookError(
        503, "unavailable", "the business database is unavailable; retry later"
    ),
)
run_in_transaction = POOL.transaction
"""Run ``work(cursor)`` in one transaction and commit. ``work`` must be idempotent: after a lost connection
it runs once more on a fresh one (``execution_plane.pgpool.RetryingPool``)."""
close_pool = POOL.close


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
