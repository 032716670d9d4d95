"""A multinomial logistic-regression (softmax) classifier over sparse binary features, in pure Python.

Why this and not a library: the training sets are a few hundred messages, training takes seconds, and the
trained model is a JSON file of feature weights a reviewer can read and diff; no numpy/scikit-learn in the
image and nothing downloaded at run time. Training is deterministic (fixed seed, sorted vocabulary), so the
shipped model file is exactly what ``train`` gives on the shipped training split (a test checks it).

Features are a mapping name -> value (a set means value 1 for each). Each example's feature vector is
L2-normalised, so a long message does not get more confident just by having more features. Optimiser:
AdaGrad with L2 applied to the weights an example touches. The vocabulary keeps features seen in at least
``min_df`` training examples.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Features = Mapping[str, float] | Iterable[str]


def as_vector(features: Features) -> dict[str, float]:
    return dict(features) if isinstance(features, Mapping) else dict.fromkeys(features, 1.0)


def softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(score - top) for score in scores]
    total = sum(exps)
    return [value / total for value in exps]


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 30
    learning_rate: float = 0.4
    l2: float = 1e-4
    min_df: int = 2
    seed: int = 13

    def as_dict(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "l2": self.l2,
            "min_df": self.min_df,
            "seed": self.seed,
        }


@dataclass
class LinearModel:
    """``weights[feature]`` holds one weight per class, in the order of ``classes``."""

    classes: list[str]
    weights: dict[str, list[float]]
    bias: list[float]
    meta: dict[str, Any] = field(default_factory=dict)

    def scores(self, features: Features) -> list[float]:
        vector = as_vector(features)
        present = [(self.weights[name], value) for name, value in vector.items() if name in self.weights]
        norm = math.sqrt(sum(value * value for _, value in present)) or 1.0
        totals = list(self.bias)
        for row, value in present:
            for k, weight in enumerate(row):
                totals[k] += weight * value / norm
        return totals

    def predict_proba(self, features: Features) -> dict[str, float]:
        """Class -> probability (sums to 1). Unknown features are ignored; with none known the bias alone
        answers (the training prior, roughly)."""
        return dict(zip(self.classes, softmax(self.scores(features)), strict=True))

    def known_features(self, features: Features) -> int:
        return sum(1 for name in as_vector(features) if name in self.weights)

    def to_json(self) -> str:
        """JSON with one feature per line, sorted: a retrained model diffs readably."""
        head = {"classes": self.classes, "bias": [round(b, 4) for b in self.bias], "meta": self.meta}
        head_lines = [
            f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False, sort_keys=True)},"
            for key, value in head.items()
        ]
        weight_lines = [
            f"    {json.dumps(name, ensure_ascii=False)}: {json.dumps([round(w, 4) for w in row])}"
            for name, row in sorted(self.weights.items())
        ]
        return "{\n" + "\n".join(head_lines) + '\n  "weights": {\n' + ",\n".join(weight_lines) + "\n  }\n}\n"

    def save(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        body = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            classes=list(body["classes"]),
            weights={name: [float(w) for w in row] for name, row in body["weights"].items()},
            bias=[float(b) for b in body["bias"]],
            meta=dict(body.get("meta", {})),
        )


def train(
    samples: Sequence[Features],
    labels: Sequence[str],
    classes: Sequence[str],
    config: TrainingConfig = TrainingConfig(),
) -> LinearModel:
    if len(samples) != len(labels):
        raise ValueError("one label per sample")
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise ValueError(f"labels outside the classes: {unknown}")
    vectors = [as_vector(sample) for sample in samples]
    df = Counter(name for vector in vectors for name in vector)
    vocab = sorted(name for name, count in df.items() if count >= config.min_df)
    index = {name: i for i, name in enumerate(vocab)}
    n_classes = len(classes)
    class_index = {name: k for k, name in enumerate(classes)}
    weights = [[0.0] * n_classes for _ in vocab]
    grad_sq = [[1e-8] * n_classes for _ in vocab]
    bias = [0.0] * n_classes
    bias_sq = [1e-8] * n_classes
    data: list[tuple[list[tuple[int, float]], int]] = []
    for vector, label in zip(vectors, labels, strict=True):
        present = sorted((index[name], value) for name, value in vector.items() if name in index)
        norm = math.sqrt(sum(value * value for _, value in present)) or 1.0
        data.append(([(f, value / norm) for f, value in present], class_index[label]))
    rng = random.Random(config.seed)
    order = list(range(len(data)))
    lr, l2 = config.learning_rate, config.l2
    for _ in range(config.epochs):
        rng.shuffle(order)
        for i in order:
            feats, target = data[i]
            totals = list(bias)
            for f, value in feats:
                row = weights[f]
                for k in range(n_classes):
                    totals[k] += row[k] * value
            probs = softmax(totals)
            probs[target] -= 1.0
            for k in range(n_classes):
                g = probs[k]
                bias_sq[k] += g * g
                bias[k] -= lr * g / math.sqrt(bias_sq[k])
            for f, value in feats:
                row = weights[f]
                acc = grad_sq[f]
                for k in range(n_classes):
                    g = probs[k] * value + l2 * row[k]
                    acc[k] += g * g
                    row[k] -= lr * g / math.sqrt(acc[k])
    kept = {name: row for name, row in zip(vocab, weights, strict=True) if max(abs(w) for w in row) >= 5e-4}
    return LinearModel(
        classes=list(classes),
        weights=kept,
        bias=bias,
        meta={"training": config.as_dict(), "training_examples": len(samples), "features": len(kept)},
    )


def cross_validate(
    samples: Sequence[Features],
    labels: Sequence[str],
    classes: Sequence[str],
    folds: int = 4,
    config: TrainingConfig = TrainingConfig(),
) -> float:
    """Mean accuracy of ``folds``-fold cross-validation (example i in fold i % folds): how the shipped
    settings were chosen on the training split, so the held-out split is looked at once."""
    accuracies: list[float] = []
    for fold in range(folds):
        fit = [i for i in range(len(samples)) if i % folds != fold]
        check = [i for i in range(len(samples)) if i % folds == fold]
        model = train([samples[i] for i in fit], [labels[i] for i in fit], classes, config)
        right = 0
        for i in check:
            probs = model.predict_proba(samples[i])
            right += max(probs, key=lambda name: probs[name]) == labels[i]
        accuracies.append(right / len(check))
    return sum(accuracies) / folds
