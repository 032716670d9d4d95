"""Waits on outside events, by correlation key (``event_waits``): the one place that reads and writes it.

A wait that ends its task in the triggerer (``ExternalEventSensor(end_task=True)``, every wait of the
shipped DAGs) registers itself just before it defers: the Airflow task instance's id, the XCom key of its
outcome, and the filter its trigger uses. When the ingress stores an event it ends the task instances of
the waits that event matches at once (``execution_plane.webhooks.resume``), without waiting for the
triggerer to hand the trigger's event over. A row is a hint, never the truth: the task instance's state in
Airflow decides whether there is anything to end, and the trigger still ends the wait when the ingress
could not (a crash between storing the event and ending the task, an event filed by a poller).

The outcome is the trigger's, computed the same way (``first_event``: the oldest matching event of the
window), so whichever of the two ends the task, it ends with the same result.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Rows of waits whose deadline passed long ago (ended by the trigger, nobody came) are pruned by the next
# registrations, a few at a time, so the table stays the size of what is waiting.
PRUNE_AFTER = "1 day"
PRUNE_BATCH = 100


@dataclass(frozen=True)
class RegisteredWait:
    """One deferred task instance waiting for an event of ``correlation_key``."""

    ti_id: uuid.UUID
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    correlation_key: str
    event_types: tuple[str, ...]
    after_at: datetime | None
    until_at: datetime | None
    xcom_key: str


def register(cur: Any, wait: RegisteredWait) -> None:
    """Record ``wait`` in the caller's transaction (again on a retry: same task instance, same row)."""
    cur.execute(
        "INSERT INTO event_waits (ti_id, dag_id, run_id, task_id, map_index, correlation_key, event_types,"
        " after_at, until_at, xcom_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (ti_id) DO UPDATE SET correlation_key = EXCLUDED.correlation_key,"
        " event_types = EXCLUDED.event_types, after_at = EXCLUDED.after_at, until_at = EXCLUDED.until_at,"
        " xcom_key = EXCLUDED.xcom_key, registered_at = now()",
        (
            str(wait.ti_id),
            wait.dag_id,
            wait.run_id,
            wait.task_id,
            wait.map_index,
            wait.correlation_key,
            list(wait.event_types),
            wait.after_at,
            wait.until_at,
            wait.xcom_key,
        ),
    )
    cur.execute(
        "DELETE FROM event_waits WHERE ti_id IN (SELECT ti_id FROM event_waits"
        " WHERE until_at < now() - %s::interval AND ti_id <> %s LIMIT %s)",
        (PRUNE_AFTER, str(wait.ti_id), PRUNE_BATCH),
    )


def waits_for(cur: Any, correlation_key: str, event_type: str) -> list[RegisteredWait]:
    """The registered waits an event of ``event_type`` for ``correlation_key`` may end."""
    cur.execute(
        "SELECT ti_id, dag_id, run_id, task_id, map_index, correlation_key, event_types, after_at, until_at,"
        " xcom_key FROM event_waits WHERE correlation_key = %s AND %s = ANY (event_types)"
        " ORDER BY registered_at",
        (correlation_key, event_type),
    )
    return [
        RegisteredWait(
            ti_id=uuid.UUID(str(row[0])),
            dag_id=row[1],
            run_id=row[2],
            task_id=row[3],
            map_index=row[4],
            correlation_key=row[5],
            event_types=tuple(row[6]),
            after_at=row[7],
            until_at=row[8],
            xcom_key=row[9],
        )
        for row in cur.fetchall()
    ]


def first_event(cur: Any, wait: RegisteredWait) -> dict[str, Any] | None:
    """The event the wait's trigger ends with: the oldest matching one received in its window, or None.

    The same filter and order as ``triggers.listener`` (``received_at`` after ``after_at``, not after
    ``until_at``; oldest first, ties by event id), the same shape as the trigger's ``event``.
    """
    cur.execute(
        "SELECT event_id, source, event_type, correlation_key, payload, received_at FROM external_events"
        " WHERE correlation_key = %s AND event_type = ANY (%s)"
        " AND (%s::timestamptz IS NULL OR received_at > %s::timestamptz)"
        " AND (%s::timestamptz IS NULL OR received_at <= %s::timestamptz)"
        " ORDER BY received_at, event_id LIMIT 1",
        (
            wait.correlation_key,
            list(wait.event_types),
            wait.after_at,
            wait.after_at,
            wait.until_at,
            wait.until_at,
        ),
    )
    row = cur.fetchone()
    if row is None:
        return None
    payload = row[4] if isinstance(row[4], dict) else json.loads(row[4])
    return {
        "event_id": row[0],
        "source": row[1],
        "event_type": row[2],
        "correlation_key": row[3],
        "payload": payload,
        "received_at": row[5].astimezone(UTC).isoformat(),
    }


def forget(cur: Any, ti_ids: Sequence[uuid.UUID]) -> None:
    """Drop the rows of task instances that no longer wait (ended, by the ingress or by their trigger)."""
    if ti_ids:
        cur.execute(
            "DELETE FROM event_waits WHERE ti_id = ANY (%s::uuid[])", ([str(ti_id) for ti_id in ti_ids],)
        )
