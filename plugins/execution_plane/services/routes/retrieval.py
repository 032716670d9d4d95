"""``POST /knowledge/documents`` (ingest) and ``GET /knowledge/search``: knowledge retrieval with sources."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from execution_plane.services import retrieval
from execution_plane.services.auth import service_access
from include.services.retrieval.models import DocumentIn, SearchIn, SearchResult

router = APIRouter(prefix="/knowledge", tags=["knowledge retrieval"])

UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "the knowledge store (pgvector) or the embeddings provider is unavailable: see message"
    }
}


@router.post(
    "/documents",
    dependencies=[Depends(service_access("knowledge_retrieval", "POST"))],
    response_model=retrieval.IngestResult,
    summary="Add or replace a document (term sheet, DD finding, memo, playbook): chunked and embedded",
    responses=UNAVAILABLE,
)
def ingest_document(document: DocumentIn) -> retrieval.IngestResult:
    """The same document (same content) twice is one row and asks the embeddings provider nothing; changed
    content replaces the document's chunks."""
    return retrieval.ingest(document)


@router.get(
    "/search",
    # A read: whoever may read the knowledge_retrieval service's runs may search.
    dependencies=[Depends(service_access("knowledge_retrieval", "GET"))],
    response_model=SearchResult,
    summary="Search the knowledge store: vector search (pgvector HNSW), re-ranked, with sources",
    responses=UNAVAILABLE,
)
def search_knowledge(request: Annotated[SearchIn, Query()]) -> SearchResult:
    """Each hit names its source: document id, title, kind, section, character span and source URI."""
    return retrieval.search(request)
