"""Health check workflow: turn service probe results into one status.

``summarize(probes)`` -> ``HealthReport``. A service is healthy when its probe answered within its
budget; the report is "healthy" only when every critical service is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Probe:
    service: str
    ok: bool
    latency_ms: float
    detail: str
    critical: bool = True


@dataclass(frozen=True)
class HealthReport:
    status: str  # "healthy" | "degraded" | "unhealthy"
    probes: tuple[Probe, ...]

    @property
    def failing(self) -> tuple[str, ...]:
        return tuple(p.service for p in self.probes if not p.ok)

    def as_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "failing": list(self.failing),
            "probes": [
                {
                    "service": p.service,
                    "ok": p.ok,
                    "latency_ms": round(p.latency_ms, 1),
                    "detail": p.detail,
                    "critical": p.critical,
                }
                for p in self.probes
            ],
        }


def summarize(probes: list[Probe]) -> HealthReport:
    if not probes:
        raise ValueError("no probes: a health check with nothing to check cannot say healthy")
    if any(not p.ok and p.critical for p in probes):
        status = "unhealthy"
    elif any(not p.ok for p in probes):
        status = "degraded"
    else:
        status = "healthy"
    return HealthReport(status=status, probes=tuple(sorted(probes, key=lambda p: p.service)))
