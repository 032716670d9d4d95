"""Where knowledge retrieval's store lives (devtools.knowledge): on a server with pgvector, the project's own
when it has the extension, else the embedded PostgreSQL 16; a server without it fails the knowledge migration
with the fix named, and setup goes on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg2
import pytest
from psycopg2 import sql

from devtools import knowledge
from devtools.postgres import PostgresTarget
from devtools.stack import read_state
from tests.conftest import STATE

LOCAL = PostgresTarget("local", "postgresql://postgres@127.0.0.1:5432", "server on 127.0.0.1:5432")


def _has_vector(target: PostgresTarget) -> bool:
    try:
        return knowledge.vector_available(target)
    except psycopg2.OperationalError:
        pytest.skip(f"no server at {target.url}")


def test_setup_recorded_a_store_that_has_pgvector() -> None:
    store: dict[str, str] = STATE["knowledge"]  # type: ignore[assignment]
    target = PostgresTarget(store["kind"], store["url"], store["kind"])
    assert knowledge.vector_available(target)
    recorded: dict[str, str] = read_state()["settings_values"]  # type: ignore[assignment]
    assert recorded["EP_KNOWLEDGE_DB"] == knowledge.database_name()
    # This process's copy of it under xdist (tests/support/worker_dbs.py), else the store itself.
    values: dict[str, str] = STATE["settings_values"]  # type: ignore[assignment]
    conn = psycopg2.connect(target.database_url(values["EP_KNOWLEDGE_DB"]))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            assert cur.fetchone() is not None
            cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'knowledge_chunks_embedding'")
            assert "hnsw" in cur.fetchone()[0]
            cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'knowledge_chunks_lexical'")
            assert "gin" in cur.fetchone()[0]
    finally:
        conn.close()


def test_the_business_server_is_used_when_it_has_pgvector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EP_KNOWLEDGE_POSTGRES_URL", raising=False)
    monkeypatch.setattr(knowledge, "vector_available", lambda target: True)
    assert knowledge.choose_store(LOCAL) is LOCAL


def test_a_configured_store_is_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EP_KNOWLEDGE_POSTGRES_URL", "postgresql://kb:pw@vectors.internal:6543/ignored?x=1")
    store = knowledge.choose_store(LOCAL)
    assert (store.kind, store.url, store.port) == (
        "configured",
        "postgresql://kb:pw@vectors.internal:6543",
        6543,
    )


@pytest.fixture
def scratch_name(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"ep_knowledge_scratch_{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(knowledge, "database_name", lambda: name)
    yield name
    conn = psycopg2.connect(LOCAL.database_url("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    conn.close()


def test_a_server_without_pgvector_is_reported_not_crashed(scratch_name: str) -> None:
    if _has_vector(LOCAL):
        pytest.skip("the machine's server has pgvector")
    problem = knowledge.migrate(LOCAL)
    assert problem is not None and "pgvector" in problem and "knowledge_db" in problem
    conn = psycopg2.connect(LOCAL.database_url(scratch_name))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('knowledge_chunks'), to_regclass('alembic_version')")
            assert cur.fetchone() == (None, None)  # nothing half-made: setup can run again once it is there
    finally:
        conn.close()


def test_without_pgvector_on_the_business_server_the_embedded_server_is_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if _has_vector(LOCAL):
        pytest.skip("the machine's server has pgvector")
    monkeypatch.delenv("EP_KNOWLEDGE_POSTGRES_URL", raising=False)
    store = knowledge.choose_store(LOCAL)
    assert store.kind == "embedded" and store.embedded is not None
    assert knowledge.vector_available(store)
