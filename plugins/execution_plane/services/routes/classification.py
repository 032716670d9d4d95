"""``POST /message-classifications``: the intent and tags of an inbound message, stored by message."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from execution_plane.services import classification
from execution_plane.services.auth import service_access
from include.services.classification.models import ClassifyRequest

router = APIRouter(tags=["message classification"])


@router.post(
    "/message-classifications",
    dependencies=[Depends(service_access("message_classification", "POST"))],
    response_model=classification.ClassificationResult,
    summary="Classify an inbound email/WhatsApp/SMS message (English or Arabic) and store the answer",
    responses={409: {"description": "message_id already names another text"}},
)
def classify_message(request: ClassifyRequest) -> classification.ClassificationResult:
    """Intent (interested, not now, question, objection, unsubscribe, out of office, complaint, meeting
    request, referral) with its probability and every intent's score, tags, cue phrases and language. The
    same message twice is one row, unchanged; ``needs_review`` flags answers under the review threshold."""
    return classification.classify(request)
