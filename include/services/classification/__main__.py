"""``python -m include.services.classification evaluate [--json] | train | tune``"""

from __future__ import annotations

import argparse
import sys

from include.services.classification.classifier import MODEL_PATH
from include.services.classification.training import evaluate_model, train_model, tune


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m include.services.classification")
    sub = parser.add_subparsers(dest="command", required=True)
    evaluate = sub.add_parser("evaluate", help="accuracy, per-class precision/recall on the held-out split")
    evaluate.add_argument("--json", action="store_true")
    sub.add_parser("train", help=f"retrain on the training split and write {MODEL_PATH.name}")
    sub.add_parser("tune", help="cross-validated accuracy of each cue weight on the training split")
    args = parser.parse_args()
    if args.command == "tune":
        for weight, accuracy in tune().items():
            print(f"cue weight {weight:g}: 4-fold CV accuracy {accuracy:.3f}")
        return 0
    if args.command == "train":
        model = train_model()
        model.save(MODEL_PATH)
        meta = model.meta
        print(f"wrote {MODEL_PATH} ({meta['features']} features, {meta['training_examples']} examples)")
        return 0
    report = evaluate_model()
    print(report.model_dump_json(indent=2) if args.json else report.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
