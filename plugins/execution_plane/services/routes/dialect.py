"""``POST /dialect-detections``: the Arabic dialect of a text, stored by text."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from execution_plane.services import dialect
from execution_plane.services.auth import service_access
from include.services.dialect.models import DetectRequest

router = APIRouter(tags=["dialect detection"])


@router.post(
    "/dialect-detections",
    dependencies=[Depends(service_access("dialect_detection", "POST"))],
    response_model=dialect.DialectDetectionResult,
    summary="Detect the Arabic dialect of a text (Gulf, Egyptian, Levantine, Maghrebi, Iraqi, MSA)",
    responses={409: {"description": "text_id already names another text"}},
)
def detect_dialect(request: DetectRequest) -> dialect.DialectDetectionResult:
    """``not_arabic`` below half Arabic letters, ``too_short`` under three Arabic words; otherwise the
    dialect with its probability, every dialect's score and the marker words found. Gulf and Iraqi are often
    confused (shared vocabulary); Maghrebi covers Morocco, Algeria, Tunisia and Libya together."""
    return dialect.detect(request)
