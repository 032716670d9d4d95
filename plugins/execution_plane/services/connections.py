"""Airflow connections as the services read them, cached for ``TTL_S``.

In the API server the Task SDK's ``Connection.get`` asks the secrets backends and then the metadata
database, one query per call: a health check reads eleven connections, eight concurrent checks 88 queries,
all competing for the API server's metadata connection pool with Airflow's own requests. Cached, a
connection costs one lookup a minute; a changed one is picked up within ``TTL_S``. ``WarmHook`` does the same
for a hook a service keeps: its HTTP client stays warm between calls and is rebuilt after ``TTL_S``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

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


class _Closable(Protocol):
    def close(self) -> None: ...


H = TypeVar("H", bound=_Closable)


class WarmHook(Generic[H]):
    """One hook shared by a service's calls (its HTTP client reused), made anew by ``make`` once it is older
    than ``TTL_S``, the old one closed, so a changed connection is picked up within ``TTL_S``."""

    def __init__(self, make: Callable[[], H]) -> None:
        self._make = make
        self._hook: H | None = None
        self._made = 0.0
        self._lock = threading.Lock()

    def get(self) -> H:
        with self._lock:
            if self._hook is None or time.monotonic() - self._made > TTL_S:
                if self._hook is not None:
                    self._hook.close()
                self._hook, self._made = self._make(), time.monotonic()
            return self._hook
