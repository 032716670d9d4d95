"""``POST /audit-events``: write one audit event to the hash-chained audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from execution_plane.services import audit
from execution_plane.services.auth import service_access
from include.services.audit import AuditEvent, AuditWrite

router = APIRouter(tags=["audit log"])


@router.post(
    "/audit-events",
    dependencies=[Depends(service_access("audit_log_write", "POST"))],
    response_model=AuditWrite,
    status_code=201,
    responses={200: {"model": AuditWrite, "description": "a redelivery: the event was already chained"}},
    summary="Append an audit event to the hash chain, once per event id",
)
def write_audit_event(event: AuditEvent) -> JSONResponse:
    """201 with its link in the chain; the same event again is a 200 ``duplicate`` with the same link; the
    same event id with other content is a 409."""
    written = audit.write(event)
    return JSONResponse(
        written.model_dump(mode="json"), status_code=201 if written.stored == "created" else 200
    )
