"""The knowledge store: the Postgres database that holds knowledge retrieval's embedded chunks, on a server
with the pgvector extension (``vector``).

The machines' own PostgreSQL 15 (Debian 12) has no pgvector, and Debian 12's archive has no
``postgresql-15-pgvector`` package (it arrives with Debian 13; the PostgreSQL project's apt repository is out
of reach here), so installing it is not an option every machine has. The store therefore lives where the
extension is, chosen in this order:

1. ``EP_KNOWLEDGE_POSTGRES_URL``: used as given (production: any server with pgvector);
2. the server the project runs on (``devtools.postgres.choose``), when ``vector`` is available there (the
   embedded PostgreSQL 16, or a server with pgvector installed);
3. the embedded PostgreSQL 16 of the ``pgserver`` wheel, which ships pgvector, started if needed on
   ``EP_EMBEDDED_PG_PORT`` (default 55432) with its data under ``.local/pgdata`` (``EP_EMBEDDED_PG_DIR``),
   the same server ``EP_POSTGRES=embedded`` would use.

Its database is ``execution_plane_knowledge`` (+ ``_<profile>``), migrated with its own Alembic history
(``include/migrations/knowledge``), and the Airflow connection ``knowledge_db`` points at it. A server
without ``vector`` (case 1) fails that migration with a message naming the fix: setup reports it and goes on,
and retrieval answers 503 with the same explanation until the extension is there and setup runs again.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg2

from devtools import env as ep_env
from devtools.postgres import DEFAULT_EMBEDDED_PORT, EmbeddedPostgres, PostgresTarget, embedded_datadir


def database_name() -> str:
    profile = ep_env.profile()
    return "execution_plane_knowledge" + ("" if profile == "dev" else f"_{profile}")


def vector_available(target: PostgresTarget) -> bool:
    conn = psycopg2.connect(target.database_url("postgres"), connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
            return cur.fetchone() is not None
    finally:
        conn.close()


def choose_store(business: PostgresTarget) -> PostgresTarget:
    if url := os.environ.get("EP_KNOWLEDGE_POSTGRES_URL"):
        parts = urlsplit(url)
        bare = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        return PostgresTarget(
            "configured", bare, f"EP_KNOWLEDGE_POSTGRES_URL ({parts.hostname}:{parts.port or 5432})"
        )
    if vector_available(business):
        return business
    port = int(os.environ.get("EP_EMBEDDED_PG_PORT", DEFAULT_EMBEDDED_PORT))
    server = EmbeddedPostgres(embedded_datadir(ep_env.LOCAL), port)
    started = server.start()
    return PostgresTarget(
        "embedded",
        f"postgresql://postgres@127.0.0.1:{port}",
        f"embedded PostgreSQL 16 (pgvector) on 127.0.0.1:{port}" + ("" if started else " (already running)"),
        embedded=server,
        started_here=started,
    )


def migrate(target: PostgresTarget) -> str | None:
    """Create the database if missing and run its migrations; None when done, else why retrieval is off."""
    from alembic import command
    from alembic.config import Config

    from devtools.postgres import ensure_databases

    ensure_databases(target, [database_name()])
    cfg = Config()
    cfg.set_main_option("script_location", str(ep_env.REPO / "include" / "migrations" / "knowledge"))
    url = target.database_url(database_name(), "postgresql+psycopg2")
    cfg.set_main_option("sqlalchemy.url", url)
    try:
        command.upgrade(cfg, "head")
    except RuntimeError as exc:
        if "pgvector" not in str(exc):
            raise
        return str(exc)
    return None
