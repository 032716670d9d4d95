"""Detect the dialect of one text: two rules first (not Arabic, too short), then the model.

What it cannot tell apart (measured on the held-out split, see ``python -m include.services.dialect
evaluate``, and inherent to the task): Gulf and Iraqi share much of their everyday vocabulary (شلون, زين,
مو, شنو, چ/گ spellings), and a message without one of the few words only one of them uses (Iraqi هسه, ماكو,
اكو, هواية; Gulf الحين, وايد, ابي) is a coin toss between them. Maghrebi is one class for Moroccan, Algerian,
Tunisian and Libyan, which the model does not separate. Sub-dialects (Hejazi vs Najdi, Palestinian vs
Syrian vs Lebanese, Upper Egyptian) are not distinguished. Formal Gulf or Egyptian writing without dialect
words reads as MSA, as it should by register. Arabizi (Arabic in Latin letters: "ezayak", "shlonak") is
``not_arabic``. Short texts (under ``MIN_ARABIC_WORDS`` Arabic words) are ``too_short``: a single word is
rarely a marker, and a guess would carry a confidence it has not earned.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from include.services.dialect.markers import markers
from include.services.dialect.models import DialectIn, DialectResult
from include.services.text.features import extract
from include.services.text.linear import LinearModel
from include.services.text.normalize import is_arabic_letter, normalize, script_counts, words

MODEL_PATH = Path(__file__).with_name("model.json")
MIN_ARABIC_WORDS = 3
MIN_ARABIC_LETTERS = 10
# Below this share of Arabic among the letters, the text is not Arabic (a reply in English quoting an Arabic
# name stays English; an Arabic message with a brand name in Latin letters stays Arabic).
MIN_ARABIC_SHARE = 0.5
CHAR_SIZES = (2, 3)
# How much each marker word found counts against one ordinary feature: chosen by 4-fold cross-validation on
# the training split (`python -m include.services.dialect tune`: 0 -> 0.56, 2 -> 0.84, 5 -> 0.91, 8 -> 0.93,
# 12 -> 0.92).
MARKER_WEIGHT = 8.0


def dialect_features(text: str, marker_weight: float = MARKER_WEIGHT) -> dict[str, float]:
    features = dict.fromkeys(extract(text, char_sizes=CHAR_SIZES), 1.0)
    for dialect, hits in markers(text).items():
        features[f"m:{dialect}"] = marker_weight * len(hits)
    return features


@cache
def load_model(path: Path = MODEL_PATH) -> tuple[LinearModel, str]:
    version = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return LinearModel.load(path), version


def detect(request: DialectIn, model: LinearModel | None = None, version: str | None = None) -> DialectResult:
    if model is None:
        model, version = load_model()
    text = request.text
    arabic, latin = script_counts(text)
    share = arabic / (arabic + latin) if arabic + latin else 0.0
    arabic_words = [w for w in words(normalize(text)) if any(is_arabic_letter(c) for c in w)]
    common: dict[str, Any] = {
        "markers": markers(text),
        "arabic_letters": arabic,
        "arabic_words": len(arabic_words),
        "arabic_share": round(share, 4),
        "model_version": version or "unsaved",
    }
    if share < MIN_ARABIC_SHARE:
        return DialectResult.model_validate(
            {"dialect": "not_arabic", "confidence": round(1 - share, 4), "scores": {}, **common}
        )
    if len(arabic_words) < MIN_ARABIC_WORDS or arabic < MIN_ARABIC_LETTERS:
        return DialectResult.model_validate(
            {"dialect": "too_short", "confidence": 1.0, "scores": {}, **common}
        )
    scores = model.predict_proba(dialect_features(text))
    best = max(scores, key=lambda name: scores[name])
    return DialectResult.model_validate(
        {
            "dialect": best,
            "confidence": round(scores[best], 4),
            "scores": {name: round(value, 4) for name, value in sorted(scores.items())},
            **common,
        }
    )
