"""Re-rank the vector search's candidates: cosine similarity blended with how much of the query's words
(weighted by their rarity among the candidates) the chunk, its section and its document title contain, plus
a bonus for query word pairs found in order; then at most ``PER_DOCUMENT`` hits per document (so one long
document does not fill the answer) and duplicate texts dropped.

Why re-rank at all: the candidates come from two searches (HNSW, approximate, and full-text) whose scores
do not compare, and an embedding blurs exact terms (a clause number, a company name, "15%"); the candidates
are few (at most twice ``CANDIDATES``), so an exact lexical look at them is cheap.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from itertools import pairwise

from include.services.retrieval.models import Candidate, Hit
from include.services.text.normalize import content_words

CANDIDATES = 50  # chunks asked of the vector search, and of the full-text search, per query
SIMILARITY_WEIGHT = 0.6
LEXICAL_WEIGHT = 0.4
PHRASE_BONUS = 0.05  # per query word pair found in order, at most MAX_PHRASE_BONUS
MAX_PHRASE_BONUS = 0.15
PER_DOCUMENT = 3


def _terms(candidate: Candidate) -> list[str]:
    return content_words(f"{candidate.title} {candidate.section} {candidate.text}")


def rerank(query: str, candidates: list[Candidate], top_k: int) -> list[Hit]:
    query_terms = list(dict.fromkeys(content_words(query)))
    query_pairs = set(pairwise(content_words(query)))
    candidate_terms = [_terms(candidate) for candidate in candidates]
    document_frequency: Counter[str] = Counter()
    for terms in candidate_terms:
        document_frequency.update(set(terms))
    n = len(candidates)
    idf = {term: math.log(1 + (n + 1) / (1 + document_frequency[term])) for term in query_terms}
    total = sum(idf.values())
    scored: list[Hit] = []
    for candidate, terms in zip(candidates, candidate_terms, strict=True):
        present = set(terms)
        lexical = sum(idf[t] for t in query_terms if t in present) / total if total else 0.0
        pairs = len(query_pairs & set(pairwise(terms)))
        bonus = min(MAX_PHRASE_BONUS, PHRASE_BONUS * pairs)
        score = SIMILARITY_WEIGHT * candidate.similarity + LEXICAL_WEIGHT * lexical + bonus
        scored.append(Hit(**candidate.model_dump(), score=round(score, 6), lexical=round(lexical, 6)))
    scored.sort(key=lambda hit: (-hit.score, hit.document_id, hit.ordinal))
    hits: list[Hit] = []
    per_document: Counter[str] = Counter()
    seen_texts: set[str] = set()
    for hit in scored:
        digest = hashlib.sha256(" ".join(hit.text.split()).encode()).hexdigest()
        if per_document[hit.document_id] >= PER_DOCUMENT or digest in seen_texts:
            continue
        hits.append(hit)
        per_document[hit.document_id] += 1
        seen_texts.add(digest)
        if len(hits) == top_k:
            break
    return hits
