"""The labelled retrieval set: documents written for this project (``data/corpus/*.md``: a ``kind:`` and a
``title:`` line, ``---``, then Markdown) and queries (``data/queries.jsonl``), each naming the document that
answers it and words of the answer. A hit is relevant when it comes from that document and contains those
words (normalised), so a chunk of the right document that does not hold the answer does not count."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from include.services.retrieval.models import DocumentIn, Hit
from include.services.text import dataset
from include.services.text.normalize import normalize

DATA = Path(__file__).parent / "data"


class LabelledQuery(BaseModel):
    id: str
    query: str
    document_id: str
    answer: str

    def is_answered_by(self, hit: Hit) -> bool:
        return hit.document_id == self.document_id and normalize(self.answer) in normalize(hit.text)


def parse_document(document_id: str, raw: str) -> DocumentIn:
    header, separator, body = raw.partition("\n---\n")
    if not separator:
        raise ValueError(f"{document_id}: no '---' line after the header")
    fields = dict(line.split(":", 1) for line in header.splitlines() if ":" in line)
    return DocumentIn.model_validate(
        {
            "document_id": document_id,
            "kind": fields.get("kind", "").strip(),
            "title": fields.get("title", "").strip(),
            "text": body,
            "source_uri": f"corpus/{document_id}.md",
        }
    )


def load_documents(folder: Path = DATA / "corpus") -> list[DocumentIn]:
    return [
        parse_document(path.stem, path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.md"))
    ]


def load_queries(path: Path = DATA / "queries.jsonl") -> list[LabelledQuery]:
    return [LabelledQuery.model_validate(row) for row in dataset.load_jsonl(path)]


def recall_at_k(queries: Sequence[LabelledQuery], results: Sequence[Sequence[Hit]], k: int = 10) -> float:
    """Share of queries with at least one relevant hit among their first ``k`` (each query has one answer
    span, so this is recall@k)."""
    if len(queries) != len(results):
        raise ValueError("one result list per query")
    found = sum(
        any(q.is_answered_by(hit) for hit in hits[:k]) for q, hits in zip(queries, results, strict=True)
    )
    return found / len(queries) if queries else 0.0
