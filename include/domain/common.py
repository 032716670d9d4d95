"""Helpers shared by every domain package.

- ``Message``: an outbound message (subject + body); the channel and recipient are chosen by the caller.
- ``canonical_json(obj) -> bytes``: one byte representation per value, so hashes are stable.
- ``sha256_hex(data) -> str``: lowercase hex digest.
- ``jsonb_problem(value, max_depth) -> str | None``: why Postgres' jsonb would not keep a JSON value exactly
  as sent (NUL, lone surrogate, nesting), or None.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Message:
    """A rendered outbound message. Channel-neutral so email and WhatsApp can share it."""

    subject: str
    body: str

    def to_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "body": self.body}


def _default(value: Any) -> Any:
    # Datetimes are normalised to UTC so the same instant hashes the same on every machine.
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        # Sets have no order: sort their canonical encodings so the output does not depend on hashing.
        return sorted(value, key=lambda v: canonical_json(v))
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _check_floats(obj: Any) -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError("NaN/Infinity have no canonical JSON form")
    if isinstance(obj, dict):
        for v in obj.values():
            _check_floats(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _check_floats(v)


def canonical_json(obj: Any) -> bytes:
    """Serialise ``obj`` to canonical JSON bytes: sorted keys, no whitespace, UTF-8, no NaN.

    Used for every hash that must not depend on dict insertion order or formatting (terms hash,
    evidence manifest, approval token claims).
    """
    _check_floats(obj)
    text = json.dumps(
        obj,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_default,
    )
    return text.encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def jsonb_problem(value: Any, max_depth: int) -> str | None:
    """Why Postgres' jsonb would not keep ``value`` exactly as sent, or None: a NUL character (refused), a
    lone UTF-16 surrogate (not text: neither encoded nor stored), or nesting deeper than ``max_depth``.

    Iterative: ``json.loads`` accepts nesting close to the recursion limit, a recursive walk would not.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return f"nested deeper than {max_depth} levels"
        if isinstance(item, str):
            if "\x00" in item:
                return "NUL characters (\\u0000) are not accepted"
            if any("\ud800" <= ch <= "\udfff" for ch in item):
                return "lone UTF-16 surrogates (\\ud800-\\udfff) are not accepted"
        elif isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return None
