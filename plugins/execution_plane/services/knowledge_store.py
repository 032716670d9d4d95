"""The knowledge store (connection ``knowledge_db``): a Postgres database with pgvector that may be another
server than the business database (``devtools.knowledge``, ``include/migrations/knowledge``). One small lazy
pool per process (``execution_plane.pgpool``), as ``services.db`` keeps for the business database.

Before its first use the store is checked: the ``vector`` extension installed and the chunks table there. A
server without pgvector, or a store never migrated, is a 503 ``knowledge_store_unavailable`` whose message
says what to do, never a crash or an SQL error in a log; the check is repeated until it passes.
"""

from __future__ import annotations

from typing import Any

from execution_plane.pgpool import RetryingPool, connect_kwargs
from execution_plane.services.errors import ServiceError

CONN_ID = "knowledge_db"

NOT_READY = (
    "the knowledge store {where} {problem}: install pgvector on that server (Debian 13+: "
    "apt-get install postgresql-<major>-pgvector) or point the knowledge_db connection at a Postgres that "
    "has it (devtools: EP_KNOWLEDGE_POSTGRES_URL, or the embedded PostgreSQL 16), then run the knowledge "
    "migrations (`python -m devtools setup`)"
)

_ready = False


def _connect_kwargs() -> dict[str, Any]:
    from airflow.sdk import Connection

    return connect_kwargs(Connection.get(CONN_ID), "ep-knowledge")


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
            NOT_READY.format(where=POOL.where, problem="has no pgvector extension"),
        )
    if not table:
        raise ServiceError(
            503,
            "knowledge_store_unavailable",
            NOT_READY.format(where=POOL.where, problem="has no knowledge tables"),
        )
    _ready = True


def _forget_readiness() -> None:
    global _ready
    _ready = False


def _unreachable(error: BaseException) -> ServiceError:
    return ServiceError(
        503,
        "knowledge_store_unavailable",
        f"the knowledge store {POOL.where or CONN_ID} is unreachable: {str(error).strip()[:200]}",
    )


POOL = RetryingPool(
    "knowledge store",
    _connect_kwargs,
    busy=lambda: ServiceError(503, "busy", "too many concurrent requests; retry later"),
    unavailable=_unreachable,
    on_checkout=_check_ready,
    on_close=_forget_readiness,
)
transaction = POOL.transaction
"""Run ``work(cursor)`` in one transaction of the knowledge store (checked ready first) and commit; ``work``
must be idempotent (it runs once more on a fresh connection when the first one turns out dead)."""
close_pool = POOL.close
