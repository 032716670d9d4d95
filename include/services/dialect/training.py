"""Train the dialect model on the training split of the shipped set; evaluate it on the held-out split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from include.services.dialect.detector import MODEL_PATH, detect, dialect_features, load_model
from include.services.dialect.models import DIALECTS, DialectIn
from include.services.text import dataset
from include.services.text.evaluation import EvaluationReport, evaluate
from include.services.text.linear import LinearModel, TrainingConfig, cross_validate, train

DATASET_PATH = Path(__file__).parent / "data" / "dialects.jsonl"
# Every held-out text is long enough for the model; the rules are tested on their own.
CONFIG = TrainingConfig(min_df=1)


def load_split() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return dataset.split(dataset.load_jsonl(DATASET_PATH), "dialect")


def train_model() -> LinearModel:
    training, _ = load_split()
    model = train(
        [dialect_features(row["text"]) for row in training],
        [row["dialect"] for row in training],
        list(DIALECTS),
        CONFIG,
    )
    model.meta["dataset"] = DATASET_PATH.name
    return model


def tune(weights: tuple[float, ...] = (0.0, 2.0, 3.0, 5.0, 8.0, 12.0)) -> dict[float, float]:
    """Marker weight -> 4-fold cross-validated accuracy on the training split."""
    training, _ = load_split()
    labels = [row["dialect"] for row in training]
    return {
        weight: round(
            cross_validate(
                [dialect_features(row["text"], weight) for row in training], labels, list(DIALECTS), 4, CONFIG
            ),
            4,
        )
        for weight in weights
    }


class DialectEvaluation(BaseModel):
    dataset: str
    dataset_size: int
    training_examples: int
    overall: EvaluationReport
    # Texts the rules answered instead of the model (too short / not Arabic): none expected in this set.
    answered_by_rule: int
    model_version: str

    def format(self) -> str:
        return "\n".join(
            [
                self.overall.format(
                    f"dialect detection, model {self.model_version}: held-out split of {self.dataset} "
                    f"({self.overall.examples} of {self.dataset_size}; trained on {self.training_examples})"
                ),
                f"answered by a rule (too short / not Arabic): {self.answered_by_rule}",
            ]
        )


def evaluate_model(model_path: Path = MODEL_PATH) -> DialectEvaluation:
    training, held_out = load_split()
    model, version = load_model(model_path)
    results = [detect(DialectIn(text=row["text"]), model, version) for row in held_out]
    return DialectEvaluation(
        dataset=DATASET_PATH.name,
        dataset_size=len(training) + len(held_out),
        training_examples=len(training),
        overall=evaluate([row["dialect"] for row in held_out], [r.dialect for r in results], DIALECTS),
        answered_by_rule=sum(1 for r in results if r.dialect in ("too_short", "not_arabic")),
        model_version=version,
    )
