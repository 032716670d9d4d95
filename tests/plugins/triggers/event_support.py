"""Helpers for tests that need real ``external_events`` rows (trigger and sensor tests)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from execution_plane.triggers.listener import application_name

CONN_ID = "execution_plane_db"


class EventTable:
    """Writes ``external_events`` rows the way the webhook inbox does, and looks at the listener's backend."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.keys: list[str] = []

    def new_key(self) -> str:
        key = f"test-trigger-{uuid.uuid4()}"
        self.keys.append(key)
        return key

    def insert(
        self,
        correlation_key: str,
        event_type: str,
        *,
        payload: dict[str, Any] | None = None,
        received_at: datetime | None = None,
        notify: bool = True,
    ) -> str:
        """Insert one event; ``notify=False`` disables the NOTIFY trigger for this transaction only."""
        event_id = str(uuid.uuid4())
        insert = (
            "INSERT INTO external_events (event_id, source, event_type, correlation_key, payload, "
            "received_at) VALUES (%s, 'test', %s, %s, %s, coalesce(%s, now()));"
        )
        args = (event_id, event_type, correlation_key, json.dumps(payload or {}), received_at)
        with self.conn.cursor() as cur:
            if notify:
                cur.execute(insert, args)
            else:
                silenced = f"BEGIN; SET LOCAL session_replication_role = replica; {insert} COMMIT;"
                cur.execute(silenced, args)
        return event_id

    def insert_many(self, rows: list[tuple[str, str]]) -> None:
        """One statement, one commit: every row NOTIFYs at the same instant."""
        with self.conn.cursor() as cur:
            cur.execute(
                "INSERT INTO external_events (event_id, source, event_type, correlation_key, payload) "
                "SELECT gen_random_uuid()::text, 'test', t, k, '{}'::jsonb "
                "FROM unnest(%s::text[], %s::text[]) AS r(k, t)",
                ([key for key, _ in rows], [event_type for _, event_type in rows]),
            )

    def listener_backends(self) -> int:
        """Backends of this test process's listener (it sets application_name per process)."""
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = %s",
                (application_name(),),
            )
            count: int = cur.fetchone()[0]
        return count

    def terminate(self, pid: int) -> None:
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))

    def delete_rows(self) -> None:
        with self.conn.cursor() as cur:
            cur.execute("DELETE FROM external_events WHERE correlation_key = ANY(%s)", (self.keys,))


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)
