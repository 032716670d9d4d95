"""The knowledge store (connection ``knowledge_db``): a Postgres database with pgvector that may be another
server than the business database (``devtools.knowledge``, ``include/migrations/knowledge``). One small lazy
pool per process, as ``services.db`` keeps for the business database.

Before its first use the store is checked: the ``vector`` extension installed and the chunks table there. A
server without pgvector, or a store never migrated, is a 503 ``knowledge_store_unavailable`` whose message
says what to do, never a crash or an SQL error in a log; the check is repeated until it passes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg2
from psycopg2.pool import ThreadedConnectionPool

from execution_plane.services.errors import ServiceError

log = logging.getLogger(__name__)

CONN_ID = "knowledge_db"
MAX_CONNECTIONS = 8
CHECKOUT_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 5

NOT_READY = (
    "the knowledge store {where} {problem}: install pgvector on that server (Debian 13+: "
    "apt-get install postgresql-<major>-pgvector) or point the knowledge_db connection at a Postgres that "
    "has it (devtools: EP_KNOWLEDGE_POSTGRES_URL, or the embedded PostgreSQL 16), then run the knowledge "
    "migrations (`python -m devtools setup`)"
)

T = TypeVar("T")

_pool: ThreadedConnectionPool | None = None
_where = ""
_ready = False
_lock = threading.Lock()
_slots = threading.BoundedSemaphore(MAX_CONNECTIONS)


def _connect_kwargs() -> dict[str, Any]:
    from airflow.sdk import Connection

    conn = Connection.get(CONN_ID)
    kwargs: dict[str, Any] = {
        "host": conn.host,
        "port": conn.port or 5432,
        "dbname": conn.schema,
        "user": conn.login,
        "connect_timeout": CONNECT_TIMEOUT_S,
        "application_name": "ep-knowledge",
    }
    if conn.password:
        kwargs["password"] = conn.password
    return kwargs


def _get_pool() -> ThreadedConnectionPool:
    global _pool, _where
    with _lock:
        if _pool is None:
            kwargs = _connect_kwargs()
            _where = f"{kwargs['host']}:{kwargs['port']}/{kwargs['dbname']}"
            _pool = ThreadedConnectionPool(0, MAX_CONNECTIONS, **kwargs)
        return _pool


def close_pool() -> None:
    global _pool, _ready
    with _lock:
        if _pool is not None:
            _pool.closeall()
            _pool = None
        _ready = False


def _check_ready(cur: Any) -> None:
    global _ready
    if _ready:
        return
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector'),"
        " to_regclass('knowledge_chunks') IS NOT NULL"
    )
    extension, table = cur.fetchone()
    if not extension:
        raise ServiceError(
            503,
            "knowledge_store_unavailable",
            NOT_READY.format(where=_where, problem="has no pgvector extension"),
        )
    if not table:
        raise ServiceError(
            503,
            "knowledge_store_unavailable",
            NOT_READY.format(where=_where, problem="has no knowledge tables"),
        )
    _ready = True


def _attempt(work: Callable[[Any], T]) -> T:
    pool = _get_pool()
    conn = pool.getconn()
    broken = False
    try:
        with conn.cursor() as cur:
            _check_ready(cur)
            result = work(cur)
        conn.commit()
        return result
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        broken = True
        raise
    except BaseException:
        conn.rollback()
        raise
    finally:
        pool.putconn(conn, close=broken or bool(conn.closed))


def transaction(work: Callable[[Any], T]) -> T:
    """Run ``work(cursor)`` in one transaction of the knowledge store and commit; ``work`` must be
    idempotent (it runs once more on a fresh connection when the first one turns out dead)."""
    if not _slots.acquire(timeout=CHECKOUT_TIMEOUT_S):
        raise ServiceError(503, "busy", "too many concurrent requests; retry later")
    try:
        try:
            return _attempt(work)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as first:
            log.warning("knowledge store connection lost or refused (%s); retrying once", first)
        try:
            return _attempt(work)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as second:
            log.error("knowledge store unavailable: %s", second)
            raise ServiceError(
                503,
                "knowledge_store_unavailable",
                f"the knowledge store {_where or CONN_ID} is unreachable: {str(second).strip()[:200]}",
            ) from None
    finally:
        _slots.release()
