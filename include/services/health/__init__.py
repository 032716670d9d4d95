"""Health check: turn service probe results into one status.

``summarize(probes)`` -> ``HealthReport``. A service is healthy when its probe answered; the report is
"healthy" only when every service is, "degraded" when only optional ones fail, "unhealthy" when a critical
one does. Used by the health_check DAG and by ``GET /services/health`` alike.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Probe(BaseModel):
    model_config = ConfigDict(frozen=True)

    service: str
    ok: bool
    latency_ms: float = Field(ge=0)
    detail: str
    critical: bool = True


class HealthReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: Literal["healthy", "degraded", "unhealthy"]
    probes: tuple[Probe, ...]

    @property
    def failing(self) -> tuple[str, ...]:
        return tuple(p.service for p in self.probes if not p.ok)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "failing": list(self.failing),
            "probes": [{**p.model_dump(), "latency_ms": round(p.latency_ms, 1)} for p in self.probes],
        }


def summarize(probes: list[Probe]) -> HealthReport:
    if not probes:
        raise ValueError("no probes: a health check with nothing to check cannot say healthy")
    status: Literal["healthy", "degraded", "unhealthy"]
    if any(not p.ok and p.critical for p in probes):
        status = "unhealthy"
    elif any(not p.ok for p in probes):
        status = "degraded"
    else:
        status = "healthy"
    return HealthReport(status=status, probes=tuple(sorted(probes, key=lambda p: p.service)))
