"""bench/services.py: the "met" cells are the measured p95 against each route's budget, never a literal."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bench import report, services


def cell(p95: float | None, n: int = 15, errors: dict[str, int] | None = None) -> dict[str, Any]:
    if p95 is None:
        return {"n": 0, "callers": 1, "errors": {}}
    return {
        "n": n,
        "p50": p95 / 2,
        "p95": p95,
        "min": 0.01,
        "max": p95,
        "mean": p95 / 2,
        "callers": 1,
        "errors": errors or {},
    }


def route(budget: float, *p95s: float | None) -> dict[str, Any]:
    cold_1, cold_8, warm_1, warm_8 = p95s
    return {
        "budget_s": budget,
        "cold_1": cell(cold_1),
        "cold_8": cell(cold_8),
        "warm_1": cell(warm_1),
        "warm_8": cell(warm_8),
    }


def section(**routes: dict[str, Any]) -> dict[str, Any]:
    return {
        "n": 15,
        "cold_rounds": 1,
        "seeded": {
            "rows": {
                "saga_workflows": 100000,
                "approval_requests": 200000,
                "pending_approvals": 30000,
                "lead_scores": 100000,
                "outside_calls": 100000,
            }
        },
        "routes": routes,
    }


def test_every_cell_within_budget_is_met() -> None:
    f = route(1.0, 0.9, 1.0, 0.1, 0.4)
    assert [services.cell_met(f, c) for c, _ in services.CELLS] == [True, True, True, True]
    assert services.route_met(f) is True


def test_one_cell_over_budget_fails_the_route() -> None:
    f = route(1.0, 1.2, 0.5, 0.1, 0.4)
    assert services.cell_met(f, "cold_1") is False
    assert services.route_met(f) is False


def test_failed_requests_fail_the_cell_whatever_the_latency() -> None:
    f = route(5.0, 0.5, 0.5, 0.5, 0.5)
    f["warm_8"]["errors"] = {"503": 2}
    assert services.cell_met(f, "warm_8") is False and services.route_met(f) is False


def test_nothing_measured_is_not_applicable_not_met() -> None:
    f = route(5.0, None, 0.5, 0.5, 0.5)
    assert services.cell_met(f, "cold_1") is None and services.route_met(f) is None


def test_the_budgets_are_the_specs() -> None:
    assert services.BUDGETS_S == {
        "lead_scoring": 5.0,
        "trust_score": 5.0,
        "audit_write": 1.0,
        "health": 1.0,
        "dashboard": 5.0,
        "message_classification": 2.0,
        "dialect_detection": 1.0,
    }


def test_the_report_shows_each_route_and_its_computed_verdicts() -> None:
    sv = section(health=route(1.0, 0.3, 0.8, 0.05, 1.5), dashboard=route(5.0, 2.0, 3.0, 0.5, 1.0))
    text = "\n".join(services.markdown_lines(sv))
    health_row = next(line for line in text.splitlines() if line.startswith("| health |"))
    assert health_row.endswith("| **no** |") and "(yes)" in health_row and "(**no**)" in health_row
    dashboard_row = next(line for line in text.splitlines() if line.startswith("| dashboard |"))
    assert dashboard_row.endswith("| yes |")
    assert "100000 seeded workflows" in text


def test_the_full_report_includes_the_section() -> None:
    results = {
        "when": "20261205T150000Z",
        "mode": "quick",
        "config": {},
        "dbos_reference": {
            "message_to_resumed_done_p50_s": 0.0058,
            "parked_1000_mib": 46,
            "parked_pg_connections_max": 21,
            "trivial_step_ms": 1.7,
        },
        "machine": {"cpus": 2, "python": "3.11", "postgres": "embedded", "load_avg_start": [1.0, 1.0, 1.0]},
        "services": section(audit_write=route(1.0, 0.2, 0.9, 0.02, 0.3)),
    }
    text = report.markdown(copy.deepcopy(results))
    assert "## Services (issue 12, part A)" in text
    assert "| audit_write | < 1 s |" in text


@pytest.mark.parametrize("route_name", list(services.BUDGETS_S))
def test_every_request_is_new_work(route_name: str) -> None:
    first, second = services.request_for(route_name, "r", 1), services.request_for(route_name, "r", 2)
    if first[0] == "POST":
        assert first[2] != second[2]  # a new lead, subject or event id: never a replay
    assert services.request_for(route_name, "r", 1) == first


def test_every_generated_request_is_valid_input() -> None:
    """A generated request the route refuses would be counted as an error, not a sample (it happened: a
    trust request with more paid invoices than invoices)."""
    from include.services.audit import AuditEvent
    from include.services.lead_scoring import Lead
    from include.services.trust_score import TrustScoreRequest

    models = {"lead_scoring": Lead, "trust_score": TrustScoreRequest, "audit_write": AuditEvent}
    for route_name, model in models.items():
        for i in range(200):
            model.model_validate(services.request_for(route_name, "r", i)[2])


def test_an_aborted_run_says_so_above_its_figures() -> None:
    results = {
        "when": "20261205T150000Z",
        "mode": "quick",
        "config": {},
        "dbos_reference": {
            "message_to_resumed_done_p50_s": 0.0058,
            "parked_1000_mib": 46,
            "parked_pg_connections_max": 21,
            "trivial_step_ms": 1.7,
        },
        "machine": {"cpus": 2, "python": "3.11", "postgres": "embedded", "load_avg_start": [1.0, 1.0, 1.0]},
        "aborted": "UniqueViolation: duplicate key",
        "services": section(health=route(1.0, 0.3, 0.8, 0.05, 0.5)),
    }
    text = report.markdown(results)
    assert "**Aborted** by an error in a later section" in text and "`UniqueViolation: duplicate key`" in text
    assert "| health | < 1 s |" in text
