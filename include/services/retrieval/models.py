"""Inputs and outputs of knowledge retrieval."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from include.services.common import BusinessKey, Text

DocumentKind = Literal["term_sheet", "dd_finding", "memo", "playbook", "other"]
MAX_DOCUMENT_CHARS = 400_000


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    document_id: BusinessKey = Field(
        description="the document's id in its source system; one id, one document"
    )
    kind: DocumentKind
    title: Text = Field(min_length=1, max_length=300)
    text: Text = Field(min_length=1, max_length=MAX_DOCUMENT_CHARS, description="plain text or Markdown")
    source_uri: Text | None = Field(default=None, max_length=1000, description="where the original lives")


class Chunk(BaseModel):
    model_config = ConfigDict(frozen=True)

    ordinal: int = Field(ge=0)
    section: str = Field(description="the heading the chunk sits under ('' before the first heading)")
    text: str
    char_start: int = Field(ge=0, description="offset of the chunk in the document text")
    char_end: int


class SearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    query: Text = Field(min_length=1, max_length=2000)
    top_k: int = Field(default=10, ge=1, le=50)
    kinds: list[DocumentKind] | None = Field(default=None, description="only documents of these kinds")
    document_ids: list[BusinessKey] | None = Field(default=None, max_length=100)


class Candidate(BaseModel):
    """A chunk the vector search found, with its cosine similarity to the query."""

    document_id: str
    title: str
    kind: str
    source_uri: str | None
    ordinal: int
    section: str
    text: str
    char_start: int
    char_end: int
    similarity: float


class Hit(Candidate):
    score: float = Field(description="the re-ranked score: similarity and query-word coverage")
    lexical: float = Field(description="share of the query's (IDF-weighted) words found in the chunk")


class SearchResult(BaseModel):
    query: str
    hits: list[Hit]
    candidates: int = Field(description="chunks the vector search returned for re-ranking")
    embedding_model: str
