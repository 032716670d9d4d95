"""Sparse binary features of a text: words, word pairs and character n-grams of each word.

Character n-grams carry what words miss in short, noisy messages: inflections ("interested"/"interesting"),
Arabic clitics glued to a word (و+, ال+, ب+, +ها) and the spelling habits of a dialect (عم ب..., ح+verb).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from include.services.text.normalize import normalize, words


def char_ngrams(word: str, sizes: Iterable[int]) -> list[str]:
    padded = f"<{word}>"
    grams: list[str] = []
    for size in sizes:
        grams.extend(padded[i : i + size] for i in range(max(1, len(padded) - size + 1)))
    return grams


def extract(
    text: str, *, char_sizes: tuple[int, ...] = (2, 3, 4), bigrams: bool = True, prefix: str = ""
) -> set[str]:
    """The feature names of ``text`` (normalised first). ``prefix`` names a feature family, so features of
    two views of one text (e.g. the message and its first line) do not collide."""
    tokens = words(normalize(text))
    features: set[str] = {f"{prefix}w:{token}" for token in tokens}
    if bigrams:
        features.update(f"{prefix}b:{a}_{b}" for a, b in pairwise(tokens))
    for token in tokens:
        features.update(f"{prefix}c:{gram}" for gram in char_ngrams(token, char_sizes))
    return features
