"""Service probes of the health_check workflow (task-side code): the toolkit's health service
(``execution_plane.services.health``), the same implementation ``GET /services/health`` answers with."""

from __future__ import annotations

import logging
from typing import Any

from execution_plane.services import health
from workflows.health_check.domain import Probe, summarize

log = logging.getLogger(__name__)


def probe_business_db() -> dict[str, Any]:
    return health.probe_postgres(health.BUSINESS_DB).model_dump()


def probe_outside_systems() -> list[dict[str, Any]]:
    return [probe.model_dump() for probe in health.probe_outside_systems()]


def summarize_or_fail(results: list[dict[str, Any]]) -> dict[str, object]:
    report = summarize([Probe(**r) for r in results])
    try:
        health.record(report)
    except Exception:  # the finding matters more than its record (the database may be what is down)
        log.exception("probe results not recorded in outside_calls")
    if report.status == "unhealthy":
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"unhealthy: {', '.join(report.failing)} failing; {report.as_dict()}")
    return report.as_dict()
