"""The inbox of outside events (``external_events``): the one place that writes it.

An outside system's event (a webhook, or the status poll that stands in for a lost one) is stored once by
its provider event id; the table's AFTER INSERT trigger NOTIFYs ``ep_external_events`` with the correlation
key at commit, which wakes the deferred waits listening for it (``triggers.listener``). A duplicate inserts
nothing and so notifies nobody.
"""

from __future__ import annotations

import json
from typing import Any


def insert_event(
    cur: Any, event_id: str, source: str, event_type: str, correlation_key: str, payload: dict[str, Any]
) -> bool:
    """Store one event in the caller's transaction; False when ``event_id`` is already there."""
    cur.execute(
        "INSERT INTO external_events (event_id, source, event_type, correlation_key, payload)"
        " VALUES (%s, %s, %s, %s, %s::jsonb) ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        (event_id, source, event_type, correlation_key, json.dumps(payload)),
    )
    return cur.fetchone() is not None
