"""Airflow connections as the services read them, cached for ``TTL_S``.

In the API server the Task SDK's ``Connection.get`` asks the secrets backends and then the metadata
database, one query per call: a health check reads eleven connections, eight concurrent checks 88 queries,
all competing for the API server's metadata connection pool with Airflow's own requests. Cached, a
connection costs one lookup a minute; a changed one is picked up within ``TTL_S``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

TTL_S = 60.0

_cache: dict[str, tuple[float, Any]] = {}
_lock = threading.Lock()


def get(conn_id: str) -> Any:
    """The Airflow ``Connection`` ``conn_id`` (the SDK's ``AirflowNotFoundException`` when it is missing)."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get(conn_id)
    if cached is not None and now - cached[0] < TTL_S:
        return cached[1]
    from airflow.sdk import Connection

    conn = Connection.get(conn_id)
    with _lock:
        _cache[conn_id] = (now, conn)
    return conn


def clear() -> None:
    """Forget every cached connection (an operator changed one and wants it now; tests)."""
    with _lock:
        _cache.clear()
