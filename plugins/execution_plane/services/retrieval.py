"""Knowledge retrieval, the one implementation behind ``POST /services/knowledge/documents`` (ingest),
``GET /services/knowledge/search`` and the workflow steps (``ingest_document_task``, ``search_task``).

Ingest: the document is chunked (``include.services.retrieval.chunking``), each chunk embedded through the
LLM connection's embeddings endpoint (``LlmHook.embed``, batched) and, in one transaction of the knowledge
store, the document row is upserted by id and its chunks replaced. The same document (same content digest,
same embedding model) again is ``unchanged`` and asks the provider nothing; changed content or another
embedding model replaces its chunks. Two identical ingests at once: the upsert's condition lets one write
the chunks, the other sees the row and changes nothing.

Search: the query is embedded the same way; pgvector's HNSW index (cosine) returns ``CANDIDATES`` chunks
and a GIN full-text index the ``CANDIDATES`` chunks sharing the most query words (why both: migration
k0002); ``include.services.retrieval.rerank`` re-ranks the union by similarity and word coverage and returns
``top_k`` with their sources (document, title, kind, section, character span, source URI).

Every embeddings call is recorded in ``outside_calls`` of the business database (the dashboard's error
rates); a provider that fails is a 503 ``llm_unavailable`` (retry later), never an empty answer.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Literal

from psycopg2.extras import execute_values
from pydantic import BaseModel

from execution_plane.services import connections, db, knowledge_store
from execution_plane.services.errors import ServiceError
from include.services.common import input_digest
from include.services.retrieval.chunking import chunk_document, embedding_text
from include.services.retrieval.models import Candidate, DocumentIn, SearchIn, SearchResult
from include.services.retrieval.rerank import CANDIDATES, rerank
from include.services.text.normalize import content_words

if TYPE_CHECKING:
    from execution_plane.hooks.llm import LlmHook

log = logging.getLogger(__name__)

LLM_CONN_ID = "llm_default"
EMBEDDING_DIMENSIONS = 384  # the knowledge store's vector column (include/migrations/knowledge)
EMBED_TIMEOUT_S = 2.0  # one batch; a search embeds one text, inside the 3 s budget
# HNSW's search breadth: at least the candidates asked for; a filtered search (kind, documents) drops rows
# after the index scan (pgvector < 0.8 has no iterative scan), so it looks wider.
EF_SEARCH = 100
EF_SEARCH_FILTERED = 400
# In every document's content digest: a change here (chunking-2: lexemes for full-text candidates) makes
# the next ingest of an unchanged document rewrite its chunks.
CHUNKING_VERSION = "chunking-2"


class IngestResult(BaseModel):
    document_id: str
    chunks: int
    embedding_model: str
    stored: Literal["created", "updated", "unchanged"]


def _new_llm_hook() -> LlmHook:
    from execution_plane.hooks.llm import LlmHook

    return LlmHook(LLM_CONN_ID, timeout_s=EMBED_TIMEOUT_S)


_llm = connections.WarmHook(_new_llm_hook)  # the LLM client, warm between calls


def _record_call(ok: bool, started: float, detail: str) -> None:
    latency = (time.perf_counter() - started) * 1000
    try:
        db.transaction(
            lambda cur: db.record_outside_call(
                cur,
                system=LLM_CONN_ID,
                source="knowledge_retrieval",
                ok=ok,
                latency_ms=latency,
                detail=detail,
            )
        )
    except ServiceError as exc:  # the figure is for the dashboard; retrieval does not fail on it
        log.warning("outside call not recorded: %s", exc.message)


def embedding_model() -> str:
    model, dimensions = _llm.get().embedding_settings()
    if dimensions != EMBEDDING_DIMENSIONS:
        raise ServiceError(
            503,
            "llm_misconfigured",
            f"the {LLM_CONN_ID} connection asks for {dimensions}-dimensional embeddings; the knowledge store "
            f"holds {EMBEDDING_DIMENSIONS} (set embedding_dimensions to {EMBEDDING_DIMENSIONS} in its extra)",
        )
    return str(model)


def embed(texts: list[str]) -> list[list[float]]:
    from execution_plane.hooks.http import ProviderError

    started = time.perf_counter()
    try:
        vectors = _llm.get().embed(texts)
    except ProviderError as exc:
        _record_call(False, started, str(exc)[:300])
        raise ServiceError(503, "llm_unavailable", f"embeddings failed: {str(exc)[:300]}") from None
    _record_call(True, started, f"{len(texts)} texts embedded")
    return vectors


def _vector(values: list[float]) -> str:
    return "[" + ",".join(repr(value) for value in values) + "]"


_UPSERT_DOCUMENT = (
    "INSERT INTO knowledge_documents (document_id, kind, title, source_uri, content_sha256, embedding_model,"
    " chunk_count) VALUES (%s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (document_id) DO UPDATE SET kind = EXCLUDED.kind, title = EXCLUDED.title,"
    " source_uri = EXCLUDED.source_uri, content_sha256 = EXCLUDED.content_sha256,"
    " embedding_model = EXCLUDED.embedding_model, chunk_count = EXCLUDED.chunk_count, ingested_at = now()"
    " WHERE knowledge_documents.content_sha256 <> EXCLUDED.content_sha256"
    " OR knowledge_documents.embedding_model <> EXCLUDED.embedding_model"
    " RETURNING (xmax = 0)"
)
_INSERT_CHUNKS = (
    "INSERT INTO knowledge_chunks (document_id, ordinal, kind, section, text, char_start, char_end,"
    " lexemes, embedding) VALUES %s"
)


def _stored_digest(document_id: str) -> tuple[str, str, int] | None:
    def read(cur: Any) -> tuple[str, str, int] | None:
        cur.execute(
            "SELECT content_sha256, embedding_model, chunk_count FROM knowledge_documents"
            " WHERE document_id = %s",
            (document_id,),
        )
        row = cur.fetchone()
        return (str(row[0]), str(row[1]), int(row[2])) if row else None

    return knowledge_store.transaction(read)


def ingest(document: DocumentIn) -> IngestResult:
    model = embedding_model()
    digest = input_digest(CHUNKING_VERSION, document)
    stored = _stored_digest(document.document_id)
    if stored is not None and stored[:2] == (digest, model):
        return IngestResult(
            document_id=document.document_id, chunks=stored[2], embedding_model=model, stored="unchanged"
        )
    chunks = chunk_document(document.text)
    vectors = embed([embedding_text(document.title, chunk) for chunk in chunks]) if chunks else []

    def write(cur: Any) -> IngestResult:
        cur.execute(
            _UPSERT_DOCUMENT,
            (
                document.document_id,
                document.kind,
                document.title,
                document.source_uri,
                digest,
                model,
                len(chunks),
            ),
        )
        written = cur.fetchone()
        if written is None:  # the same content is there already (a concurrent identical ingest)
            return IngestResult(
                document_id=document.document_id,
                chunks=len(chunks),
                embedding_model=model,
                stored="unchanged",
            )
        cur.execute("DELETE FROM knowledge_chunks WHERE document_id = %s", (document.document_id,))
        rows = [
            (
                document.document_id,
                chunk.ordinal,
                document.kind,
                chunk.section,
                chunk.text,
                chunk.char_start,
                chunk.char_end,
                lexemes(document.title, chunk.section, chunk.text),
                _vector(vector),
            )
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        if rows:
            execute_values(cur, _INSERT_CHUNKS, rows, template="(%s, %s, %s, %s, %s, %s, %s, %s, %s::vector)")
        return IngestResult(
            document_id=document.document_id,
            chunks=len(chunks),
            embedding_model=model,
            stored="created" if written[0] else "updated",
        )

    return knowledge_store.transaction(write)


_COLUMNS_SQL = (
    "c.document_id, d.title, c.kind, d.source_uri, c.ordinal, c.section, c.text, c.char_start,"
    " c.char_end, 1 - (c.embedding <=> %(q)s::vector) AS similarity"
)
_FILTERS = (
    "(%(kinds)s::text[] IS NULL OR c.kind = ANY(%(kinds)s::text[]))"
    " AND (%(ids)s::text[] IS NULL OR c.document_id = ANY(%(ids)s::text[]))"
)
_VECTOR_SEARCH = (
    f"SELECT {_COLUMNS_SQL} FROM knowledge_chunks c"
    " JOIN knowledge_documents d ON d.document_id = c.document_id"
    f" WHERE {_FILTERS} ORDER BY c.embedding <=> %(q)s::vector LIMIT %(limit)s"
)
# The words of a query are common words of the corpus too: at 100k chunks an OR of a query's words matched
# 20-50k chunks, every one of them ranked. Ranked by ts_rank (word frequency), on the chunks' narrow columns,
# and only the top ones joined for their text: 95 ms a query where ts_rank_cd (cover density, over the
# joined wide rows) took 360 ms; the top 50 were the same for 11 of 12 labelled queries, and the re-ranking
# orders candidates by its own measure anyway (bench: recall@10 at 100k chunks).
_LEXICAL_SEARCH = (
    "WITH top AS ("
    " SELECT c.document_id, c.ordinal, ts_rank(c.lexical, to_tsquery('simple', %(words)s)) AS rank"
    f" FROM knowledge_chunks c WHERE {_FILTERS} AND c.lexical @@ to_tsquery('simple', %(words)s)"
    " ORDER BY rank DESC, c.document_id, c.ordinal LIMIT %(limit)s)"
    f" SELECT {_COLUMNS_SQL} FROM top"
    " JOIN knowledge_chunks c ON c.document_id = top.document_id AND c.ordinal = top.ordinal"
    " JOIN knowledge_documents d ON d.document_id = c.document_id"
    " ORDER BY top.rank DESC, c.document_id, c.ordinal"
)


def lexemes(title: str, section: str, text: str) -> str:
    """What the full-text index holds for a chunk: the normalised content words of its title, section and
    text (the query's words go through the same function)."""
    return " ".join(content_words(f"{title} {section} {text}"))


def tsquery(query: str) -> str | None:
    """Any of the query's content words (``'fee' | 'termination'``), quoted; None without one."""
    terms = sorted({word.replace("'", "") for word in content_words(query)} - {""})
    return " | ".join(f"'{term}'" for term in terms) or None


_COLUMNS = (
    "document_id",
    "title",
    "kind",
    "source_uri",
    "ordinal",
    "section",
    "text",
    "char_start",
    "char_end",
    "similarity",
)


def search(request: SearchIn) -> SearchResult:
    model = embedding_model()
    query_vector = _vector(embed([request.query])[0])
    filtered = request.kinds is not None or request.document_ids is not None
    words = tsquery(request.query)

    def read(cur: Any) -> list[Candidate]:
        cur.execute("SET LOCAL hnsw.ef_search = %s", (EF_SEARCH_FILTERED if filtered else EF_SEARCH,))
        # One process per query: a parallel plan of the full-text scan (2 workers) took a third less time
        # alone but three times the CPU, and the route is measured at 8 callers at once (8 at once: p95
        # 0.83 s without workers, 1.16 s with them, on 100k chunks and 2 cores).
        cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        args = {
            "q": query_vector,
            "kinds": request.kinds,
            "ids": request.document_ids,
            "limit": CANDIDATES,
            "words": words,
        }
        cur.execute(_VECTOR_SEARCH, args)
        rows = cur.fetchall()
        if words is not None:
            cur.execute(_LEXICAL_SEARCH, args)
            rows += cur.fetchall()
        unique = {(row[0], row[4]): row for row in rows}  # (document, ordinal): each chunk once
        return [Candidate(**dict(zip(_COLUMNS, row, strict=True))) for row in unique.values()]

    candidates = knowledge_store.transaction(read)
    return SearchResult(
        query=request.query,
        hits=rerank(request.query, candidates, request.top_k),
        candidates=len(candidates),
        embedding_model=model,
    )


def ingest_document_task(document: dict[str, Any]) -> dict[str, Any]:
    """The workflow step: a document -> its stored chunks (JSON, for XCom)."""
    return ingest(DocumentIn.model_validate(document)).model_dump(mode="json")


def search_task(request: dict[str, Any]) -> dict[str, Any]:
    """The workflow step (e.g. proposal generation): a query -> the re-ranked hits with their sources."""
    return search(SearchIn.model_validate(request)).model_dump(mode="json")
