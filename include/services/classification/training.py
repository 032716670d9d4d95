"""Train the classifier on the training split of the shipped set and evaluate it on the held-out split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from include.services.classification.classifier import (
    MODEL_PATH,
    REVIEW_BELOW,
    classify,
    load_model,
    message_features,
)
from include.services.classification.models import INTENTS, MessageIn
from include.services.text import dataset
from include.services.text.evaluation import EvaluationReport, evaluate
from include.services.text.linear import LinearModel, TrainingConfig, cross_validate, train

DATASET_PATH = Path(__file__).parent / "data" / "messages.jsonl"


def load_split() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return dataset.split(dataset.load_jsonl(DATASET_PATH), "intent")


def train_model() -> LinearModel:
    training, _ = load_split()
    model = train(
        [message_features(row["text"]) for row in training],
        [row["intent"] for row in training],
        list(INTENTS),
        TrainingConfig(),
    )
    model.meta["dataset"] = DATASET_PATH.name
    return model


def tune(weights: tuple[float, ...] = (1.0, 2.0, 3.0, 5.0, 8.0)) -> dict[float, float]:
    """Cue weight -> 4-fold cross-validated accuracy on the training split."""
    training, _ = load_split()
    labels = [row["intent"] for row in training]
    return {
        weight: round(
            cross_validate(
                [message_features(row["text"], weight) for row in training], labels, list(INTENTS)
            ),
            4,
        )
        for weight in weights
    }


class ClassificationEvaluation(BaseModel):
    dataset: str
    dataset_size: int
    training_examples: int
    overall: EvaluationReport
    by_language: dict[str, float]
    # How often the model is right when it is sure, and when it flags the answer for review.
    accuracy_confident: float
    accuracy_flagged: float
    flagged: int
    model_version: str

    def format(self) -> str:
        lines = [
            self.overall.format(
                f"message classification, model {self.model_version}: held-out split of {self.dataset} "
                f"({self.overall.examples} of {self.dataset_size}; trained on {self.training_examples})"
            ),
            "accuracy by language: " + ", ".join(f"{k} {v:.3f}" for k, v in self.by_language.items()),
            f"confidence >= {REVIEW_BELOW}: accuracy {self.accuracy_confident:.3f}; "
            f"flagged for review: {self.flagged}, accuracy {self.accuracy_flagged:.3f}",
        ]
        return "\n".join(lines)


def evaluate_model(model_path: Path = MODEL_PATH) -> ClassificationEvaluation:
    training, held_out = load_split()
    model, version = load_model(model_path)
    results = [classify(MessageIn(text=row["text"]), model, version) for row in held_out]
    truth = [row["intent"] for row in held_out]
    predicted = [result.intent for result in results]
    by_language: dict[str, float] = {}
    for lang in sorted({row["lang"] for row in held_out}):
        idx = [i for i, row in enumerate(held_out) if row["lang"] == lang]
        by_language[lang] = round(sum(truth[i] == predicted[i] for i in idx) / len(idx), 4)
    confident = [i for i, r in enumerate(results) if not r.needs_review]
    flagged = [i for i, r in enumerate(results) if r.needs_review]

    def rate(idx: list[int]) -> float:
        return round(sum(truth[i] == predicted[i] for i in idx) / len(idx), 4) if idx else 0.0

    return ClassificationEvaluation(
        dataset=DATASET_PATH.name,
        dataset_size=len(training) + len(held_out),
        training_examples=len(training),
        overall=evaluate(truth, predicted, INTENTS),
        by_language=by_language,
        accuracy_confident=rate(confident),
        accuracy_flagged=rate(flagged),
        flagged=len(flagged),
        model_version=version,
    )
