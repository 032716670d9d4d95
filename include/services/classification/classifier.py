"""Classify one message with the shipped model: features -> probabilities -> intent, tags, confidence."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from include.services.classification.cues import cues
from include.services.classification.models import Classification, MessageIn
from include.services.classification.tags import tags
from include.services.text.features import extract
from include.services.text.linear import LinearModel
from include.services.text.normalize import language

MODEL_PATH = Path(__file__).with_name("model.json")
# How much a cue phrase counts against one ordinary feature: chosen by 4-fold cross-validation on the
# training split (`python -m include.services.classification tune`: 1 -> 0.70, 2 -> 0.79, 3 -> 0.85,
# 5 -> 0.88, 8 -> 0.885: no better past 5).
CUE_WEIGHT = 5.0
CHAR_SIZES = (3, 4)
# Below this probability the answer is flagged for review: on the held-out split, predictions under it
# were right far less often than those above (the evaluate command prints both rates).
REVIEW_BELOW = 0.5


def message_features(text: str, cue_weight: float = CUE_WEIGHT) -> dict[str, float]:
    features = dict.fromkeys(extract(text, char_sizes=CHAR_SIZES), 1.0)
    for intent in cues(text):
        features[f"cue:{intent}"] = cue_weight
    if "?" in text or "\u061f" in text:
        features["p:?"] = 1.0
    if "!" in text:
        features["p:!"] = 1.0
    return features


@cache
def load_model(path: Path = MODEL_PATH) -> tuple[LinearModel, str]:
    """The model and its version (the first 12 hex digits of the file's sha256)."""
    version = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return LinearModel.load(path), version


def classify(
    message: MessageIn, model: LinearModel | None = None, version: str | None = None
) -> Classification:
    if model is None:
        model, version = load_model()
    scores = model.predict_proba(message_features(message.text))
    intent = max(scores, key=lambda name: scores[name])
    confidence = scores[intent]
    return Classification.model_validate(
        {
            "intent": intent,
            "confidence": round(confidence, 4),
            "needs_review": confidence < REVIEW_BELOW,
            "scores": {name: round(value, 4) for name, value in sorted(scores.items())},
            "tags": tags(message.text),
            "cues": cues(message.text),
            "language": language(message.text),
            "model_version": version or "unsaved",
        }
    )
