"""Accuracy, per-class precision/recall/F1 and the confusion matrix of a labelled evaluation."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel


class ClassScores(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int


class EvaluationReport(BaseModel):
    examples: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassScores]
    # confusion[true][predicted] = count
    confusion: dict[str, dict[str, int]]

    def format(self, title: str) -> str:
        width = max(len(name) for name in self.per_class) + 2
        lines = [
            title,
            f"examples {self.examples}  accuracy {self.accuracy:.3f}  macro-F1 {self.macro_f1:.3f}",
            f"{'class':<{width}}precision  recall  f1     support",
        ]
        for name, scores in self.per_class.items():
            figures = f"{scores.precision:>9.3f}  {scores.recall:>6.3f}  {scores.f1:.3f}  {scores.support:>7}"
            lines.append(f"{name:<{width}}{figures}")
        lines.append("confusion (rows: true, columns: predicted)")
        names = list(self.confusion)
        lines.append(" " * width + " ".join(f"{name[:6]:>6}" for name in names))
        for true_name in names:
            row = self.confusion[true_name]
            lines.append(f"{true_name:<{width}}" + " ".join(f"{row.get(p, 0):>6}" for p in names))
        return "\n".join(lines)


def evaluate(truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> EvaluationReport:
    if len(truth) != len(predicted):
        raise ValueError("one prediction per example")
    labels = list(classes) + sorted(set(predicted) - set(classes))
    confusion = {t: dict.fromkeys(labels, 0) for t in labels}
    for t, p in zip(truth, predicted, strict=True):
        confusion.setdefault(t, dict.fromkeys(labels, 0))[p] += 1
    per_class: dict[str, ClassScores] = {}
    for name in classes:
        tp = confusion[name][name]
        predicted_as = sum(confusion[t][name] for t in confusion)
        support = sum(confusion[name].values())
        precision = tp / predicted_as if predicted_as else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = ClassScores(
            precision=round(precision, 4), recall=round(recall, 4), f1=round(f1, 4), support=support
        )
    correct = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p)
    return EvaluationReport(
        examples=len(truth),
        accuracy=round(correct / len(truth), 4) if truth else 0.0,
        macro_f1=round(sum(s.f1 for s in per_class.values()) / len(per_class), 4) if per_class else 0.0,
        per_class=per_class,
        confusion=confusion,
    )
