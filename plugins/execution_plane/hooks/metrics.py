"""Product metrics: a canary cohort registered once, and its figures over a window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from execution_plane.hooks.http import ProviderHook


class MetricsHook(ProviderHook):
    system = "metrics"
    default_conn_name = "metrics_default"
    hook_name = "Product metrics"

    def create_cohort(
        self, cohort_id: str, *, market: str, flag_key: str, description: str, idempotency_key: str
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/cohorts",
            json={"cohort_id": cohort_id, "market": market, "flag_key": flag_key, "description": description},
            idempotency_key=idempotency_key,
        )

    def cohort_summary(self, cohort_id: str, *, start: datetime | str, end: datetime | str) -> dict[str, Any]:
        """Sessions, error rate, p95 latency, conversion and the baseline conversion over [start, end]."""
        return self.json(
            "GET",
            f"/cohorts/{cohort_id}/summary",
            params={"start": _iso(start), "end": _iso(end)},
        )


def _iso(value: datetime | str) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
