"""A small lazy Postgres pool per process, for the code that runs inside the API server (the webhook
ingress, the services) and the tasks calling the same services: one transaction per call, retried once on a
fresh connection when the pooled one turns out dead (a restarted Postgres leaves dead ones in the pool).

Nothing connects at import (every Airflow component imports the plugin): a connection is opened when a
call finds none idle, and kept idle for the next call afterwards (at most ``max_connections``, the number
of calls let in at once). psycopg2's own ``ThreadedConnectionPool`` is not used: it closes every connection
handed back beyond ``minconn`` (so with a lazy ``minconn=0`` it never reuses one) and raises instead of
waiting when exhausted. Callers queue for a slot; none free within ``checkout_timeout_s`` is the caller's
``busy`` error, and a database still unreachable on the retry its ``unavailable`` error (both 503s where
they are HTTP answers). A lost connection drops every idle one too (after a Postgres restart they are all
dead), and the retry always opens a fresh connection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg2
from psycopg2 import extensions

log = logging.getLogger(__name__)

T = TypeVar("T")
CONNECT_TIMEOUT_S = 5
LOST = (psycopg2.OperationalError, psycopg2.InterfaceError)


def connect_kwargs(
    conn: Any, application_name: str, *, connect_timeout: int = CONNECT_TIMEOUT_S
) -> dict[str, Any]:
    """psycopg2 keyword arguments for an Airflow postgres connection (no password when it has none)."""
    kwargs: dict[str, Any] = {
        "host": conn.host,
        "port": conn.port or 5432,
        "dbname": conn.schema,
        "user": conn.login,
        "connect_timeout": connect_timeout,
        "application_name": application_name,
    }
    if conn.password:
        kwargs["password"] = conn.password
    return kwargs


class RetryingPool:
    """``transaction(work)`` runs ``work(cursor)`` in one transaction and commits; ``work`` must be
    idempotent, since it runs once more on a fresh connection when the first one turns out dead.

    ``on_checkout(cursor)`` runs before ``work`` in the same transaction (a readiness check); ``on_close``
    when the pool closes (to forget what that check learnt)."""

    def __init__(
        self,
        what: str,
        kwargs: Callable[[], dict[str, Any]],
        *,
        busy: Callable[[], Exception],
        unavailable: Callable[[BaseException], Exception],
        on_checkout: Callable[[Any], None] | None = None,
        on_close: Callable[[], None] | None = None,
        max_connections: int = 8,
        checkout_timeout_s: float = 5.0,
    ) -> None:
        self.what = what
        self.where = ""  # host:port/dbname, once the pool exists
        self._kwargs = kwargs
        self._busy = busy
        self._unavailable = unavailable
        self._on_checkout = on_checkout
        self._on_close = on_close
        self._checkout_timeout_s = checkout_timeout_s
        self._connect: dict[str, Any] | None = None
        self._idle: list[Any] = []
        self._generation = 0  # close() starts a new one: connections of an older one are not kept
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)

    @property
    def opened(self) -> bool:
        """Whether the pool has read its connection's settings (its first call)."""
        return self._connect is not None

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def _checkout(self, fresh: bool) -> tuple[Any, int]:
        with self._lock:
            if self._connect is None:
                self._connect = self._kwargs()
                kwargs = self._connect
                self.where = f"{kwargs['host']}:{kwargs['port']}/{kwargs['dbname']}"
            generation = self._generation
            if self._idle and not fresh:
                return self._idle.pop(), generation
            kwargs = self._connect
        return psycopg2.connect(**kwargs), generation

    def _checkin(self, conn: Any, generation: int, broken: bool) -> None:
        keep = (
            not broken
            and not conn.closed
            and conn.info.transaction_status == extensions.TRANSACTION_STATUS_IDLE
        )
        with self._lock:
            if keep and generation == self._generation:
                self._idle.append(conn)
                return
            stale = self._idle if broken else []
            if broken:
                self._idle = []
        for dead in [conn, *stale]:
            dead.close()

    def close(self) -> None:
        """Close every idle connection and forget the settings (tests, benchmarks; in a server they close
        with the process). A connection in use is closed when it is handed back."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._connect = None
            self.where = ""
            self._generation += 1
            if self._on_close is not None:
                self._on_close()
        for conn in idle:
            conn.close()

    def _attempt(self, work: Callable[[Any], T], *, fresh: bool) -> T:
        conn, generation = self._checkout(fresh)
        broken = False
        try:
            with conn.cursor() as cur:
                if self._on_checkout is not None:
                    self._on_checkout(cur)
                result = work(cur)
            conn.commit()
            return result
        except LOST:
            broken = True
            raise
        except BaseException:
            conn.rollback()
            raise
        finally:
            # A connection that lost its server is dropped (and the idle ones with it), never handed out.
            self._checkin(conn, generation, broken)

    def transaction(self, work: Callable[[Any], T]) -> T:
        if not self._slots.acquire(timeout=self._checkout_timeout_s):
            raise self._busy()
        try:
            try:
                return self._attempt(work, fresh=False)
            except LOST as first:
                log.warning("%s: connection lost (%s); retrying once", self.what, type(first).__name__)
            try:
                return self._attempt(work, fresh=True)
            except LOST as second:
                log.exception("%s unavailable", self.what)
                raise self._unavailable(second) from None
        finally:
            self._slots.release()
