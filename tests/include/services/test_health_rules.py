"""Health check rules (include/services/health), shared by the health_check DAG and GET /services/health."""

from __future__ import annotations

import pytest

from include.services.health import Probe, summarize


def probe(service: str, ok: bool, critical: bool = True) -> Probe:
    return Probe(service=service, ok=ok, latency_ms=1.25, detail="d", critical=critical)


def test_all_answering_is_healthy_and_sorted_by_service() -> None:
    report = summarize([probe("b", True), probe("a", True, critical=False)])
    assert report.status == "healthy" and report.failing == ()
    assert [p.service for p in report.probes] == ["a", "b"]


def test_an_optional_failure_degrades_a_critical_one_makes_unhealthy() -> None:
    assert summarize([probe("db", True), probe("llm", False, critical=False)]).status == "degraded"
    report = summarize([probe("db", False), probe("llm", False, critical=False)])
    assert report.status == "unhealthy" and report.failing == ("db", "llm")


def test_nothing_to_check_cannot_say_healthy() -> None:
    with pytest.raises(ValueError, match="no probes"):
        summarize([])


def test_as_dict_lists_each_dependency_with_its_latency() -> None:
    body = summarize([probe("db", True)]).as_dict()
    assert body == {
        "status": "healthy",
        "failing": [],
        "probes": [{"service": "db", "ok": True, "latency_ms": 1.2, "detail": "d", "critical": True}],
    }


def test_the_workflow_uses_the_same_rules() -> None:
    from workflows.health_check import domain

    assert domain.summarize is summarize and domain.Probe is Probe
