"""Dialect detection, the one implementation behind ``POST /services/dialect-detections`` and the workflow
step (``detect_dialect_task``). Local model, no outside call; the answer is stored under the text's key
exactly as message classification stores its answers (same text and model: ``unchanged``; newer model:
``updated``; another text under a used id: 409)."""

from __future__ import annotations

import json
from typing import Any, Literal

from execution_plane.services import db
from execution_plane.services.errors import ServiceError
from include.services.classification.models import storage_key, text_sha256
from include.services.dialect.detector import detect as detect_text
from include.services.dialect.detector import load_model
from include.services.dialect.models import DetectRequest, DialectResult


class DialectDetectionResult(DialectResult):
    text_key: str
    stored: Literal["created", "updated", "unchanged"]


_SELECT = "SELECT text_sha256, model_version, result FROM dialect_detections WHERE text_key = %s"
_UPSERT = (
    "INSERT INTO dialect_detections (text_key, text_sha256, dialect, confidence, result, model_version)"
    " VALUES (%s, %s, %s, %s, %s::jsonb, %s)"
    " ON CONFLICT (text_key) DO UPDATE SET dialect = EXCLUDED.dialect, confidence = EXCLUDED.confidence,"
    " result = EXCLUDED.result, model_version = EXCLUDED.model_version, detected_at = now()"
    " WHERE dialect_detections.text_sha256 = EXCLUDED.text_sha256"
    " AND dialect_detections.model_version <> EXCLUDED.model_version"
    " RETURNING (xmax = 0)"
)


def _stored(cur: Any, key: str, digest: str) -> DialectDetectionResult | None:
    cur.execute(_SELECT, (key,))
    row = cur.fetchone()
    if row is None:
        return None
    if row[0] != digest:
        raise ServiceError(409, "conflict", f"text {key!r} was analysed with another text", field="text_id")
    return DialectDetectionResult(**{**row[2], "model_version": row[1]}, text_key=key, stored="unchanged")


def detect(request: DetectRequest) -> DialectDetectionResult:
    key = storage_key(request.text_id, request.text)
    digest = text_sha256(request.text)
    _, version = load_model()

    def work(cur: Any) -> DialectDetectionResult:
        found = _stored(cur, key, digest)
        if found is not None and found.model_version == version:
            return found
        result = detect_text(request)
        cur.execute(
            _UPSERT,
            (
                key,
                digest,
                result.dialect,
                result.confidence,
                json.dumps(result.model_dump(mode="json"), ensure_ascii=False),
                result.model_version,
            ),
        )
        written = cur.fetchone()
        if written is None:
            current = _stored(cur, key, digest)
            assert current is not None
            return current
        return DialectDetectionResult(
            **result.model_dump(), text_key=key, stored="created" if written[0] else "updated"
        )

    return db.transaction(work)


def detect_dialect_task(text: dict[str, Any]) -> dict[str, Any]:
    """The workflow step: ``{"text", "text_id"}`` -> the stored detection (JSON, for XCom)."""
    return detect(DetectRequest.model_validate(text)).model_dump(mode="json")
