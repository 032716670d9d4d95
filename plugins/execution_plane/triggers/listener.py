"""One LISTEN connection per triggerer event loop, shared by every external-event wait in that loop.

A trigger that opened its own connection would hold one Postgres backend per parked workflow, and Postgres
runs out of connections at about a hundred waits. Here each wait registers its filter in a dict keyed by
correlation key. A NOTIFY on ``ep_external_events`` (payload = correlation key, sent by the AFTER INSERT
trigger of ``external_events`` at COMMIT, so the row is visible) marks that key for checking, and one worker
task runs one batched query for every marked key. The same worker re-checks every registered key every
``recheck_interval`` seconds and right after each (re)connect: that catches rows committed while nobody
listened (triggerer restart, dropped connection, a NOTIFY lost with its connection).

Every check reads, none writes: a trigger may run more than once, so waiting has no side effects.

Settings (Airflow config, env ``AIRFLOW__EXECUTION_PLANE__<KEY>``): ``event_recheck_interval`` (seconds,
default 5), ``event_listener_idle_grace`` (seconds the connection stays open after the last waiter left,
default 30).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "ep_external_events"

DEFAULT_RECHECK_INTERVAL = 5.0
DEFAULT_IDLE_GRACE = 30.0
QUERY_TIMEOUT = 30.0
MIN_BACKOFF = 0.2
MAX_BACKOFF = 30.0

# One row per distinct wait filter; the LATERAL probe uses the (correlation_key, received_at) index and
# returns the oldest matching event. `until` bounds the window so the outcome is the same whenever a trigger
# re-runs: an event received after the deadline never turns an expiry into a receipt.
_FIND_EVENTS = """
SELECT w.ord, e.event_id, e.source, e.event_type, e.correlation_key, e.payload, e.received_at
FROM unnest($1::text[], $2::jsonb[], $3::timestamptz[], $4::timestamptz[]) WITH ORDINALITY
     AS w(correlation_key, event_types, after_at, until_at, ord)
CROSS JOIN LATERAL (
    SELECT x.*
    FROM external_events x
    WHERE x.correlation_key = w.correlation_key
      AND x.event_type IN (SELECT jsonb_array_elements_text(w.event_types))
      AND (w.after_at IS NULL OR x.received_at > w.after_at)
      AND (w.until_at IS NULL OR x.received_at <= w.until_at)
    ORDER BY x.received_at, x.event_id
    LIMIT 1
) e
"""

# Errors after which reconnecting can help; anything else fails the waiters instead of looping. asyncpg raises
# InternalClientError ("another operation is in progress") when the backend dies in the middle of a query.
_TRANSIENT = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


class ListenerError(Exception):
    """The listener cannot serve waits (e.g. its Airflow connection is not defined)."""


class _ConnectionLost(asyncpg.InterfaceError):
    pass


@dataclass(frozen=True)
class _Filter:
    correlation_key: str
    event_types: tuple[str, ...]
    after: datetime | None
    until: datetime | None


@dataclass(eq=False)
class _Waiter:
    filter: _Filter
    found: asyncio.Future[dict[str, Any]]


_REGISTRY: dict[asyncio.AbstractEventLoop, dict[str, SharedEventListener]] = {}


class SharedEventListener:
    """Waits for ``external_events`` rows on behalf of every trigger of one event loop."""

    def __init__(
        self,
        conn_id: str,
        *,
        recheck_interval: float = DEFAULT_RECHECK_INTERVAL,
        idle_grace: float = DEFAULT_IDLE_GRACE,
    ) -> None:
        self.conn_id = conn_id
        self.recheck_interval = recheck_interval
        self.idle_grace = idle_grace
        self._loop = asyncio.get_running_loop()
        self._waiters: dict[str, set[_Waiter]] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        # A final check must see a query that started after it was asked for: cycles are numbered.
        self._cycles_started = 0
        self._cycles_done = 0
        self._cycle_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self._closed = False
        self._checks_on_connection = 0
        # Observability: how often this listener had to (re)connect, how many NOTIFYs it received.
        self.connects = 0
        self.notifications = 0
        self.server_pid: int | None = None

    @classmethod
    def for_current_loop(cls, conn_id: str) -> SharedEventListener:
        """The listener of the running event loop for ``conn_id``, created (not yet connected) if needed."""
        loop = asyncio.get_running_loop()
        for stale in [other for other in _REGISTRY if other.is_closed()]:
            del _REGISTRY[stale]
        per_loop = _REGISTRY.setdefault(loop, {})
        listener = per_loop.get(conn_id)
        if listener is None:
            listener = cls(conn_id, **_configured_timings())
            per_loop[conn_id] = listener
        return listener

    @classmethod
    def active(cls, conn_id: str) -> SharedEventListener | None:
        """The running loop's listener for ``conn_id`` if one exists (no side effect)."""
        return _REGISTRY.get(asyncio.get_running_loop(), {}).get(conn_id)

    @property
    def waiter_count(self) -> int:
        return sum(len(waiters) for waiters in self._waiters.values())

    async def wait_for_event(
        self,
        correlation_key: str,
        event_types: list[str],
        *,
        after: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, Any] | None:
        """The oldest event with one of ``event_types`` received in (after, until], or None once ``until``
        has passed without one. Checks the table first (the event may already be there), then waits.

        :raises ListenerError: the listener cannot serve waits.
        """
        waiter = self._subscribe(_Filter(correlation_key, tuple(event_types), after, until))
        try:
            timeout = None if until is None else max((until - datetime.now(UTC)).total_seconds(), 0.0)
            try:
                # shield: a timeout must not cancel the future the final check may still resolve.
                return await asyncio.wait_for(asyncio.shield(waiter.found), timeout)
            except TimeoutError:
                # An event committed just before the deadline may have its NOTIFY still in flight.
                await self._checked_after_now(correlation_key)
                return waiter.found.result() if waiter.found.done() else None
        finally:
            self._unsubscribe(waiter)

    async def aclose(self) -> None:
        """Stop now: close the connection and fail any remaining waiter."""
        self._begin_close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def _subscribe(self, wait_filter: _Filter) -> _Waiter:
        if self._closed:
            raise ListenerError(f"listener for {self.conn_id!r} is closed")
        waiter = _Waiter(wait_filter, self._loop.create_future())
        self._waiters.setdefault(wait_filter.correlation_key, set()).add(waiter)
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
        self._mark_dirty(wait_filter.correlation_key)
        if self._task is None:
            self._task = self._loop.create_task(self._run(), name=f"external-events-listener:{self.conn_id}")
        return waiter

    def _unsubscribe(self, waiter: _Waiter) -> None:
        key = waiter.filter.correlation_key
        waiters = self._waiters.get(key)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[key]
        if not waiter.found.done():
            waiter.found.cancel()
        elif not waiter.found.cancelled():
            # Mark a failure as seen: its owner already got it from the final check.
            waiter.found.exception()
        if not self._waiters and not self._closed and self._idle_handle is None:
            # Triggers come and go in bursts: keep the connection a little while instead of churning it.
            self._idle_handle = self._loop.call_later(self.idle_grace, self._close_if_idle)

    def _close_if_idle(self) -> None:
        self._idle_handle = None
        if not self._waiters:
            self._begin_close()

    def _begin_close(self) -> None:
        self._closed = True
        self._forget()
        self._stop.set()
        self._wake.set()

    def _forget(self) -> None:
        per_loop = _REGISTRY.get(self._loop)
        if per_loop is not None and per_loop.get(self.conn_id) is self:
            del per_loop[self.conn_id]
            if not per_loop:
                del _REGISTRY[self._loop]

    def _mark_dirty(self, correlation_key: str) -> None:
        self._dirty.add(correlation_key)
        self._wake.set()

    async def _checked_after_now(self, correlation_key: str) -> None:
        """Return once a check of ``correlation_key`` that started after this call has completed."""
        done: asyncio.Future[None] = self._loop.create_future()
        self._cycle_waiters.append((self._cycles_started + 1, done))
        self._mark_dirty(correlation_key)
        await done

    def _on_notify(self, _conn: object, _pid: int, _channel: str, correlation_key: str) -> None:
        self.notifications += 1
        if correlation_key in self._waiters:
            self._mark_dirty(correlation_key)

    def _on_terminated(self, _conn: object) -> None:
        self._wake.set()

    async def _run(self) -> None:
        failures = 0
        error: Exception | None = None
        try:
            while not self._closed:
                if failures:
                    await self._sleep(min(MIN_BACKOFF * 2 ** (failures - 1), MAX_BACKOFF))
                    if self._closed:
                        break
                try:
                    conn = await self._connect()
                except _TRANSIENT as exc:
                    failures += 1
                    log.warning("external-events listener: cannot connect (%s); attempt %d", exc, failures)
                    continue
                self._checks_on_connection = 0
                try:
                    await self._serve(conn)
                except _TRANSIENT as exc:
                    log.warning("external-events listener: connection lost (%s); reconnecting", exc)
                finally:
                    await _close_quietly(conn)
                    self.server_pid = None
                # A connection that served checks was healthy: reconnect at once; one that died before its
                # first check is backed off like a failed connect, so a broken server is not hammered.
                failures = 0 if self._checks_on_connection else failures + 1
        except Exception as exc:
            # An undefined connection or a bug: fail the waiters (their triggers report an error) rather than
            # leave them hanging until their deadline.
            log.exception("external-events listener for %r stopped", self.conn_id)
            error = exc
        finally:
            self._closed = True
            self._forget()
            self._fail_all(error or ListenerError(f"listener for {self.conn_id!r} stopped"))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _connect(self) -> asyncpg.Connection:
        conn_info = await _airflow_connection(self.conn_id)
        conn: asyncpg.Connection = await asyncpg.connect(
            host=conn_info.host or "localhost",
            port=conn_info.port or 5432,
            user=conn_info.login or None,
            password=conn_info.password or None,
            database=conn_info.schema or None,
            ssl=conn_info.extra_dejson.get("sslmode"),
            timeout=QUERY_TIMEOUT,
            server_settings={"application_name": application_name()},
        )
        try:
            await conn.add_listener(CHANNEL, self._on_notify)
        except BaseException:
            await _close_quietly(conn)
            raise
        conn.add_termination_listener(self._on_terminated)
        self.connects += 1
        self.server_pid = conn.get_server_pid()
        log.info("external-events listener: LISTEN %s on backend %s", CHANNEL, self.server_pid)
        return conn

    async def _serve(self, conn: asyncpg.Connection) -> None:
        # Rows may have been committed while nobody listened: look at every registered key first.
        self._dirty.update(self._waiters)
        next_recheck = self._loop.time() + self.recheck_interval
        while not self._closed:
            if not self._dirty:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(next_recheck - self._loop.time(), 0.0))
            self._wake.clear()
            if self._closed:
                return
            if conn.is_closed():
                raise _ConnectionLost("the LISTEN connection was closed")
            if self._loop.time() >= next_recheck:
                self._dirty.update(self._waiters)
                next_recheck = self._loop.time() + self.recheck_interval
            await self._check(conn)
            self._checks_on_connection += 1

    async def _check(self, conn: asyncpg.Connection) -> None:
        keys, self._dirty = self._dirty, set()
        self._cycles_started += 1
        by_filter: dict[_Filter, list[_Waiter]] = {}
        for key in keys:
            for waiter in self._waiters.get(key, ()):
                if not waiter.found.done():
                    by_filter.setdefault(waiter.filter, []).append(waiter)
        if by_filter:
            filters = list(by_filter)
            rows = await conn.fetch(
                _FIND_EVENTS,
                [f.correlation_key for f in filters],
                [json.dumps(list(f.event_types)) for f in filters],
                [f.after for f in filters],
                [f.until for f in filters],
                timeout=QUERY_TIMEOUT,
            )
            for row in rows:
                event = _event_from_row(row)
                for waiter in by_filter[filters[row["ord"] - 1]]:
                    if not waiter.found.done():
                        waiter.found.set_result(event)
        self._cycles_done = self._cycles_started
        still_waiting = []
        for cycle, done in self._cycle_waiters:
            if cycle <= self._cycles_done:
                if not done.done():
                    done.set_result(None)
            else:
                still_waiting.append((cycle, done))
        self._cycle_waiters = still_waiting

    def _fail_all(self, exc: BaseException) -> None:
        error = exc if isinstance(exc, ListenerError) else ListenerError(f"{type(exc).__name__}: {exc}")
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.found.done():
                    waiter.found.set_exception(error)
        for _, done in self._cycle_waiters:
            if not done.done():
                done.set_exception(error)
        self._cycle_waiters = []


async def _airflow_connection(conn_id: str) -> Any:
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return await Connection.async_get(conn_id)
    except AirflowNotFoundException as exc:
        raise ListenerError(str(exc)) from exc


async def _close_quietly(conn: asyncpg.Connection) -> None:
    # A connection that cannot close politely is dropped: nothing on it is worth waiting for.
    try:
        await asyncio.wait_for(conn.close(), QUERY_TIMEOUT)
    except asyncio.CancelledError:
        conn.terminate()
        raise
    except Exception:
        conn.terminate()


def application_name() -> str:
    """Per process, so a DBA (and the tests) can tell one triggerer's listener from another's in
    pg_stat_activity. Read at connect time: the triggerer runs triggers in a subprocess."""
    return f"ep-external-events:{os.getpid()}"


def _event_from_row(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "event_id": row["event_id"],
        "source": row["source"],
        "event_type": row["event_type"],
        "correlation_key": row["correlation_key"],
        "payload": json.loads(row["payload"]),
        "received_at": row["received_at"].isoformat(),
    }


def _configured_timings() -> dict[str, float]:
    from airflow.sdk.configuration import conf

    def setting(key: str, default: float) -> float:
        return conf.getfloat("execution_plane", key, fallback=default)

    return {
        "recheck_interval": setting("event_recheck_interval", DEFAULT_RECHECK_INTERVAL),
        "idle_grace": setting("event_listener_idle_grace", DEFAULT_IDLE_GRACE),
    }
