"""The sandbox LLM's embedding model: deterministic, offline, and meaningful for word overlap.

A text becomes a signed feature-hashing vector (the "hashing trick"): each normalised word adds its weight
(1 + log count) at a position and sign derived from its hash (Arabic words without their article or
a glued conjunction, ``light_stem``), each word pair half of that, each character
trigram of a word a quarter (so "invoice"/"invoices", "العقد"/"عقد" still overlap). Common English and
Arabic function words are left out. The vector is L2-normalised, so cosine similarity grows with the
words two texts share, and the same text always gives the same vector. It stands in for a provider's
model in tests, demos and benchmarks; it knows no synonyms ("fee" and "charge" do not meet), which the
retrieval's labelled queries keep in mind.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from functools import lru_cache
from itertools import pairwise

from include.services.text.features import char_ngrams
from include.services.text.normalize import content_words

MODEL = "ep-hash-embed-1"
DIMENSIONS = 384
MAX_DIMENSIONS = 3072


@lru_cache(maxsize=200_000)
def _slot(feature: str, dimensions: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    return int.from_bytes(digest[:4], "big") % dimensions, 1.0 if digest[4] & 1 else -1.0


def embed(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    tokens = content_words(text)
    vector = [0.0] * dimensions
    weights: dict[str, float] = defaultdict(float)
    for token, count in Counter(tokens).items():
        weight = 1.0 + math.log(count)
        weights[f"w:{token}"] += weight
        for gram in char_ngrams(token, (3,)):
            weights[f"c:{gram}"] += 0.25 * weight
    for first, second in pairwise(tokens):
        weights[f"b:{first}_{second}"] += 0.5
    if not weights:  # nothing to go on: one fixed direction, so the vector is never all zeros
        weights["empty"] = 1.0
    for feature, weight in weights.items():
        index, sign = _slot(feature, dimensions)
        vector[index] += sign * weight
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [round(value / norm, 6) for value in vector]


def token_count(text: str) -> int:
    return max(1, round(len(text.split()) * 4 / 3))
