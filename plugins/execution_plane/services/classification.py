"""Message classification, the one implementation behind ``POST /services/message-classifications`` and the
workflow step (``classify_message_task``).

The model (``include.services.classification``) is local: no outside call. The answer is stored under the
message's key (its id, else the text's sha256) in one transaction of the business database:

- the same key with the same text and the same model version returns the stored answer (``unchanged``);
- the same key and text with a newer model is classified again and updated in place (``updated``);
- the same key with another text is refused (409 on ``message_id``): an id names one message.

Two identical requests at once: both may compute, the upsert's condition lets one row win, and the other
returns that row. Answers under the review threshold carry ``needs_review``: the LLM is not asked here (the
sandbox's deterministic LLM cannot judge intent); a person, or a workflow's LLM step, takes those.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from execution_plane.services import db
from execution_plane.services.errors import ServiceError
from include.services.classification.classifier import classify as classify_text
from include.services.classification.classifier import load_model
from include.services.classification.models import Classification, ClassifyRequest, storage_key, text_sha256


class ClassificationResult(Classification):
    message_key: str
    stored: Literal["created", "updated", "unchanged"]


_SELECT = "SELECT text_sha256, model_version, result FROM message_classifications WHERE message_key = %s"
_UPSERT = (
    "INSERT INTO message_classifications (message_key, text_sha256, channel, language, intent, confidence,"
    " needs_review, tags, result, model_version) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)"
    " ON CONFLICT (message_key) DO UPDATE SET channel = EXCLUDED.channel, language = EXCLUDED.language,"
    " intent = EXCLUDED.intent, confidence = EXCLUDED.confidence, needs_review = EXCLUDED.needs_review,"
    " tags = EXCLUDED.tags, result = EXCLUDED.result, model_version = EXCLUDED.model_version,"
    " classified_at = now()"
    # Only a newer model's answer for the very same text replaces a stored one.
    " WHERE message_classifications.text_sha256 = EXCLUDED.text_sha256"
    " AND message_classifications.model_version <> EXCLUDED.model_version"
    " RETURNING (xmax = 0)"
)


def _stored(cur: Any, key: str, digest: str) -> ClassificationResult | None:
    cur.execute(_SELECT, (key,))
    row = cur.fetchone()
    if row is None:
        return None
    if row[0] != digest:
        raise ServiceError(
            409, "conflict", f"message {key!r} was classified with another text", field="message_id"
        )
    return ClassificationResult(**{**row[2], "model_version": row[1]}, message_key=key, stored="unchanged")


def classify(request: ClassifyRequest) -> ClassificationResult:
    key = storage_key(request.message_id, request.text)
    digest = text_sha256(request.text)
    _, version = load_model()

    def work(cur: Any) -> ClassificationResult:
        found = _stored(cur, key, digest)
        if found is not None and found.model_version == version:
            return found
        result = classify_text(request)
        cur.execute(
            _UPSERT,
            (
                key,
                digest,
                request.channel,
                result.language,
                result.intent,
                result.confidence,
                result.needs_review,
                result.tags,
                json.dumps(result.model_dump(mode="json"), ensure_ascii=False),
                result.model_version,
            ),
        )
        written = cur.fetchone()
        if written is None:  # a concurrent identical request stored its answer first: that one stands
            current = _stored(cur, key, digest)
            assert current is not None
            return current
        return ClassificationResult(
            **result.model_dump(), message_key=key, stored="created" if written[0] else "updated"
        )

    return db.transaction(work)


def classify_message_task(message: dict[str, Any]) -> dict[str, Any]:
    """The workflow step: an inbound message (``text``, ``channel``, ``message_id``) -> its stored
    classification (JSON, for XCom)."""
    return classify(ClassifyRequest.model_validate(message)).model_dump(mode="json")
