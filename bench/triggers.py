"""The parked-waits BASELINE: a trigger that opens its own asyncpg connection per wait.

This is what `execution_plane.triggers.listener` exists to avoid: every parked wait holds one Postgres
backend (LISTEN + a re-check), so the server's `max_connections` caps the number of waits. Only the
benchmark uses it (DAG `bench_naive_parked`); it is importable by the triggerer because the stack puts the
repo root on PYTHONPATH.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent

CHANNEL = "ep_external_events"
RECHECK_S = 5.0


def application_name() -> str:
    return f"ep-bench-naive:{os.getpid()}"


class NaiveEventTrigger(BaseTrigger):
    """Fire (ending the task) once `external_events` has a row for `correlation_key`; own connection."""

    def __init__(self, correlation_key: str, event_type: str, conn_id: str = "execution_plane_db") -> None:
        super().__init__()
        self.correlation_key = correlation_key
        self.event_type = event_type
        self.conn_id = conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "bench.triggers.NaiveEventTrigger",
            {"correlation_key": self.correlation_key, "event_type": self.event_type, "conn_id": self.conn_id},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        import asyncpg
        from airflow.sdk import Connection

        info = await Connection.async_get(self.conn_id)
        conn = await asyncpg.connect(
            host=info.host,
            port=info.port or 5432,
            user=info.login or None,
            password=info.password or None,
            database=info.schema,
            server_settings={"application_name": application_name()},
            timeout=30,
        )
        woken = asyncio.Event()
        try:
            await conn.add_listener(CHANNEL, lambda *args: args[3] == self.correlation_key and woken.set())
            while True:
                row = await conn.fetchrow(
                    "SELECT event_id FROM external_events WHERE correlation_key = $1 AND event_type = $2"
                    " ORDER BY received_at LIMIT 1",
                    self.correlation_key,
                    self.event_type,
                )
                if row is not None:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), RECHECK_S)
                woken.clear()
        finally:
            with contextlib.suppress(Exception):
                await conn.close()
        yield TaskSuccessEvent(xcoms={"return_value": {"status": "received", "event_id": row["event_id"]}})
