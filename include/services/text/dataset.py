"""Labelled sets shipped as JSON Lines, and their deterministic, stratified train/held-out split."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

HELD_OUT_EVERY = 5  # one example in five of each class is held out (20 %)


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as exc:
            raise ValueError(f"{path.name}:{number}: not JSON: {exc}") from exc
    ids = [row["id"] for row in rows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{path.name}: duplicate ids {duplicates}")
    return rows


def split(rows: list[dict[str, Any]], label: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, held_out): within each class, examples ordered by a hash of their id and every fifth held
    out. It depends on the ids only (never on file order); adding an example can move others of its own
    class across the split, so a model is retrained whenever its set changes (a test checks it was)."""
    by_class: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_class[row[label]].append(row)
    train: list[dict[str, Any]] = []
    held_out: list[dict[str, Any]] = []
    for name in sorted(by_class):
        ordered = sorted(by_class[name], key=lambda row: hashlib.sha256(row["id"].encode()).hexdigest())
        for i, row in enumerate(ordered):
            (held_out if i % HELD_OUT_EVERY == 0 else train).append(row)
    return train, held_out
