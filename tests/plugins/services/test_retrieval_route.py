"""Knowledge retrieval through the app as the API server mounts it: documents chunked and embedded through
the LLM connection (the sandbox's embeddings endpoint), stored in the knowledge store (pgvector, HNSW) and
searched with sources; the labelled set's recall@10 through the real store; a store without pgvector is a
clear 503, as is an embeddings provider that fails."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest
from fastapi.testclient import TestClient

from execution_plane.services import knowledge_store, retrieval
from include.services.retrieval import corpus
from include.services.retrieval.models import DocumentIn, SearchIn
from tests.conftest import STATE
from tests.plugins.services.conftest import bearer

DOCUMENTS = "/services/knowledge/documents"
SEARCH = "/services/knowledge/search"
# The labelled set through the real path (chunks -> embeddings endpoint -> pgvector HNSW -> re-rank), its 12
# documents alone: 1.0 measured (49 of 49); the floor allows four misses, the level the same queries reach
# among 2,000 distractors (0.96 in tests/include/services/test_retrieval_rules.py) with one more to spare.
RECALL_FLOOR = 0.9


def knowledge_url() -> str:
    v: dict[str, str] = STATE["settings_values"]  # type: ignore[assignment]
    password = f":{v['EP_KNOWLEDGE_PG_PASSWORD']}" if v["EP_KNOWLEDGE_PG_PASSWORD"] else ""
    return (
        f"postgresql://{v['EP_KNOWLEDGE_PG_USER']}{password}@{v['EP_KNOWLEDGE_PG_HOST']}:"
        f"{v['EP_KNOWLEDGE_PG_PORT']}/{v['EP_KNOWLEDGE_DB']}"
    )


@pytest.fixture
def knowledge_db() -> Iterator[Any]:
    conn = psycopg2.connect(knowledge_url())
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def tag(knowledge_db: Any) -> Iterator[str]:
    value = uuid.uuid4().hex[:12]
    yield value
    with knowledge_db.cursor() as cur:
        cur.execute("DELETE FROM knowledge_documents WHERE document_id LIKE %s", (f"%{value}%",))


def document(tag: str, **overrides: Any) -> dict[str, Any]:
    return {
        "document_id": f"ts-{tag}",
        "kind": "term_sheet",
        "title": f"Cedar Analytics {tag} - term sheet",
        "text": (
            "# Fees\n\nCedar pays a platform fee of 4% of gross bookings, invoiced monthly.\n\n"
            "# Exclusivity\n\nNo exclusivity is granted; Cedar may work with other providers.\n\n"
            f"# Termination\n\nEither party may end the agreement with 60 days notice. Reference {tag}."
        ),
        "source_uri": f"docstore://term-sheets/{tag}.pdf",
        **overrides,
    }


def chunks(knowledge_db: Any, document_id: str) -> list[tuple[Any, ...]]:
    with knowledge_db.cursor() as cur:
        cur.execute(
            "SELECT ordinal, section, text, vector_dims(embedding) FROM knowledge_chunks"
            " WHERE document_id = %s ORDER BY ordinal",
            (document_id,),
        )
        return list(cur.fetchall())


def embedding_calls(business_db: Any) -> int:
    with business_db.cursor() as cur:
        cur.execute("SELECT count(*) FROM outside_calls WHERE source = 'knowledge_retrieval'")
        return int(cur.fetchone()[0])


def test_ingest_stores_chunks_once_and_replaces_them_on_change(
    services_client: TestClient, tokens: dict[str, str], knowledge_db: Any, business_db: Any, tag: str
) -> None:
    body = document(tag)
    first = services_client.post(DOCUMENTS, json=body, headers=bearer(tokens["user"]))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "document_id": f"ts-{tag}",
        "chunks": 3,
        "embedding_model": "ep-hash-embed-1",
        "stored": "created",
    }
    stored = chunks(knowledge_db, f"ts-{tag}")
    assert [(o, s, d) for o, s, _, d in stored] == [
        (0, "Fees", 384),
        (1, "Exclusivity", 384),
        (2, "Termination", 384),
    ]
    calls = embedding_calls(business_db)
    again = services_client.post(DOCUMENTS, json=body, headers=bearer(tokens["service"]))
    assert again.json()["stored"] == "unchanged"
    assert embedding_calls(business_db) == calls  # the provider was not asked again
    assert chunks(knowledge_db, f"ts-{tag}") == stored
    changed = document(tag, text="# Fees\n\nThe platform fee is now 3.5% of gross bookings.")
    updated = services_client.post(DOCUMENTS, json=changed, headers=bearer(tokens["user"]))
    assert (updated.json()["stored"], updated.json()["chunks"]) == ("updated", 1)
    [(_, _, text, _)] = chunks(knowledge_db, f"ts-{tag}")
    assert "3.5%" in text


def test_full_text_terms_are_the_normalised_content_words() -> None:
    assert retrieval.tsquery("What is the termination fee?") == "'fee' | 'termination'"
    assert retrieval.tsquery("the of and") is None
    assert retrieval.tsquery("don't stop") == "'dont' | 'stop'"  # no quote can break out of the lexeme
    assert retrieval.tsquery("ما نسبة العمولة للشريك؟") == "'شريك' | 'عموله' | 'نسبه'"
    assert retrieval.lexemes("Cedar - term sheet", "Fees", "A fee of 4%.") == "cedar term sheet fees fee 4"


def test_chunks_carry_their_lexemes_for_full_text_candidates(
    services_client: TestClient, tokens: dict[str, str], knowledge_db: Any, tag: str
) -> None:
    services_client.post(DOCUMENTS, json=document(tag), headers=bearer(tokens["user"]))
    with knowledge_db.cursor() as cur:
        cur.execute(
            "SELECT ordinal FROM knowledge_chunks WHERE document_id = %s"
            " AND lexical @@ to_tsquery('simple', %s) ORDER BY ordinal",
            (f"ts-{tag}", retrieval.tsquery("gross bookings")),
        )
        assert [row[0] for row in cur.fetchall()] == [0]  # the Fees chunk, and only it


def test_concurrent_identical_ingests_write_one_set_of_chunks(
    services_client: TestClient, tokens: dict[str, str], knowledge_db: Any, tag: str
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    body = document(tag)

    def post(_: int) -> str:
        response = services_client.post(DOCUMENTS, json=body, headers=bearer(tokens["user"]))
        assert response.status_code == 200, response.text
        return str(response.json()["stored"])

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(post, range(4)))
    assert statuses == ["created", "unchanged", "unchanged", "unchanged"]
    assert [o for o, _, _, _ in chunks(knowledge_db, f"ts-{tag}")] == [0, 1, 2]


def test_search_returns_hits_with_their_sources(
    services_client: TestClient, tokens: dict[str, str], tag: str
) -> None:
    body = document(tag)
    services_client.post(DOCUMENTS, json=body, headers=bearer(tokens["user"]))
    response = services_client.get(
        SEARCH,
        params={
            "query": f"Cedar {tag} platform fee gross bookings",
            "document_ids": [f"ts-{tag}"],
            "top_k": 2,
        },
        headers=bearer(tokens["viewer"]),  # a read: viewers may search
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["embedding_model"] == "ep-hash-embed-1" and result["candidates"] == 3
    top = result["hits"][0]
    assert (top["document_id"], top["section"], top["kind"]) == (f"ts-{tag}", "Fees", "term_sheet")
    assert top["source_uri"] == body["source_uri"] and top["title"] == body["title"]
    assert body["text"][top["char_start"] : top["char_end"]].strip() == top["text"]
    assert len(result["hits"]) == 2 and top["score"] >= result["hits"][1]["score"]


def test_search_filters_by_kind(services_client: TestClient, tokens: dict[str, str], tag: str) -> None:
    services_client.post(DOCUMENTS, json=document(tag), headers=bearer(tokens["user"]))
    memo = document(tag, document_id=f"memo-{tag}", kind="memo", title=f"Memo {tag} on fees")
    services_client.post(DOCUMENTS, json=memo, headers=bearer(tokens["user"]))
    hits = services_client.get(
        SEARCH, params={"query": f"{tag} platform fee", "kinds": ["memo"]}, headers=bearer(tokens["user"])
    ).json()["hits"]
    assert hits and {h["kind"] for h in hits} == {"memo"}
    assert hits[0]["document_id"] == f"memo-{tag}"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"kind": "novel"}, "kind"),
        ({"document_id": "bad id"}, "document_id"),
        ({"text": None}, "text"),
        ({"pages": 3}, "pages"),
    ],
)
def test_bad_documents_are_422_naming_the_field_and_write_nothing(
    services_client: TestClient,
    tokens: dict[str, str],
    knowledge_db: Any,
    tag: str,
    overrides: dict[str, Any],
    field: str,
) -> None:
    response = services_client.post(
        DOCUMENTS, json=document(tag, **overrides), headers=bearer(tokens["user"])
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    with knowledge_db.cursor() as cur:
        cur.execute("SELECT count(*) FROM knowledge_documents WHERE document_id LIKE %s", (f"%{tag}%",))
        assert cur.fetchone()[0] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "query"),
        ({"query": "fees", "top_k": 0}, "top_k"),
        ({"query": "fees", "top_k": 51}, "top_k"),
        ({"query": "fees", "kinds": ["novel"]}, "kinds.0"),
        ({"query": "fees", "limit": 3}, "limit"),
    ],
)
def test_bad_searches_are_422_naming_the_field(
    services_client: TestClient, tokens: dict[str, str], params: dict[str, Any], field: str
) -> None:
    response = services_client.get(SEARCH, params=params, headers=bearer(tokens["user"]))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_an_embeddings_failure_is_a_503_and_writes_nothing(
    services_client: TestClient, tokens: dict[str, str], sandbox: Any, knowledge_db: Any, tag: str
) -> None:
    sandbox.post(
        "/_sandbox/faults", {"system": "llm", "action": "embeddings", "mode": "error", "status": 503}
    )
    response = services_client.post(DOCUMENTS, json=document(tag), headers=bearer(tokens["user"]))
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "llm_unavailable" and "503" in response.json()["message"]
    assert chunks(knowledge_db, f"ts-{tag}") == []


def test_a_store_without_pgvector_is_a_clear_503(
    services_client: TestClient, tokens: dict[str, str], business_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The business database of this profile may be the machine's PostgreSQL 15, which has no pgvector: the
    knowledge_db connection pointed at a database without the extension must say so, not fail in SQL."""
    with psycopg2.connect(business_db_url) as probe, probe.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_extension WHERE extname = 'vector'")
        if cur.fetchone()[0]:
            pytest.skip("the business database has pgvector installed")
    monkeypatch.setenv("AIRFLOW_CONN_KNOWLEDGE_DB", business_db_url)
    knowledge_store.close_pool()
    try:
        response = services_client.get(SEARCH, params={"query": "fees"}, headers=bearer(tokens["user"]))
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["error"] == "knowledge_store_unavailable"
        assert "has no pgvector extension" in body["message"] and "knowledge_db" in body["message"]
    finally:
        knowledge_store.close_pool()


def test_recall_at_10_of_the_labelled_set_through_the_store(sandbox: Any, knowledge_db: Any) -> None:
    """The 12 documents and 49 labelled queries of include/services/retrieval/data, through ingest and search
    exactly as the routes call them. The documents keep their ids (they are the reference set, re-ingested
    unchanged by every run)."""
    documents = corpus.load_documents()
    for doc in documents:
        assert retrieval.ingest(doc).stored in ("created", "unchanged", "updated")
    queries = corpus.load_queries()
    ids = [doc.document_id for doc in documents]
    results = [retrieval.search(SearchIn(query=q.query, document_ids=ids)).hits for q in queries]
    recall = corpus.recall_at_k(queries, results, 10)
    assert recall >= RECALL_FLOOR, recall


def test_document_in_is_the_route_model() -> None:
    assert DocumentIn.model_json_schema()["required"] == ["document_id", "kind", "title", "text"]
    assert os.environ.get("AIRFLOW_CONN_KNOWLEDGE_DB")  # tests reach the store through the same connection
