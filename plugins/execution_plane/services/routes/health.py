"""``GET /health``: every dependency with its latency."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from execution_plane.services import health
from execution_plane.services.auth import service_access
from include.services.health import Probe

router = APIRouter(tags=["health"])


class HealthAnswer(BaseModel):
    status: str
    failing: list[str]
    probes: list[Probe]


@router.get(
    "/health",
    dependencies=[Depends(service_access("health_check", "GET"))],
    response_model=HealthAnswer,
    responses={503: {"model": HealthAnswer, "description": "a critical dependency is down"}},
    summary="Probe the business database and every outside system, each with its latency",
)
def check_health() -> JSONResponse:
    """200 when healthy or degraded (only optional systems failing), 503 when a critical one fails; within
    1 s whatever a dependency does (a probe with no answer by then is reported failed)."""
    report = health.check()
    body: dict[str, Any] = report.as_dict()
    return JSONResponse(body, status_code=503 if report.status == "unhealthy" else 200)
