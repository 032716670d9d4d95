"""GET /services/dashboard: each figure checked against rows this test writes (its own workflow type,
assignee and outside system, so other rows in the database do not matter; the lead funnel by difference)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.plugins.services.conftest import bearer

ROUTE = "/services/dashboard"


@pytest.fixture
def rows(business_db: Any, tag: str) -> Iterator[str]:
    dag_id = f"dash_{tag}"
    workflows = [
        ("running", "0 days"),
        ("running", "0 days"),
        ("completed", "1 day"),
        ("compensated", "3 days"),
        ("compensation_failed", "20 days"),
        ("compensated", "40 days"),
    ]
    with business_db.cursor() as cur:
        for i, (status, age) in enumerate(workflows):
            cur.execute(
                "INSERT INTO saga_workflows (workflow_id, dag_id, run_id, business_key, status, updated_at)"
                " VALUES (%s, %s, 'r', %s, %s, now() - %s::interval)",
                (f"{dag_id}:{i}", dag_id, str(i), status, age),
            )
        for i, (stage, assignees, age) in enumerate(
            [("review", [f"alice-{tag}"], "3650 days"), ("review", [f"alice-{tag}", f"bob-{tag}"], "1 hour")]
        ):
            cur.execute(
                "INSERT INTO approval_requests (request_id, workflow_id, stage, dag_id, run_id, task_id,"
                " assignees, subject, status, created_at)"
                " VALUES (%s, %s, %s, %s, 'r', 't', %s, 's', 'pending', now() - %s::interval)",
                (f"{dag_id}:{i}:{stage}", f"{dag_id}:{i}", stage, dag_id, assignees, age),
            )
        for ok in (True, True, True, False):
            cur.execute(
                "INSERT INTO outside_calls (system, source, ok, latency_ms, detail)"
                " VALUES (%s, 'test', %s, 1, %s)",
                (f"sys-{tag}", ok, tag),
            )
        cur.execute(
            "INSERT INTO outside_calls (system, source, ok, latency_ms, detail, at)"
            " VALUES (%s, 'test', false, 1, %s, now() - interval '2 days')",
            (f"sys-{tag}", tag),
        )
    yield dag_id
    with business_db.cursor() as cur:
        cur.execute("DELETE FROM approval_requests WHERE dag_id = %s", (dag_id,))
        cur.execute("DELETE FROM saga_workflows WHERE dag_id = %s", (dag_id,))


def add_leads(business_db: Any, tag: str, stages: list[tuple[str, str]]) -> None:
    with business_db.cursor() as cur:
        for i, (stage, band) in enumerate(stages):
            cur.execute(
                "INSERT INTO lead_scores (lead_key, stage, score, band, factors, degraded, rules_version,"
                " input_sha256) VALUES (%s, %s, 50, %s, '[]'::jsonb, false, 'lead-v1', 'x')",
                (f"L-{tag}-{i}", stage, band),
            )


def get(client: TestClient, token: str, **params: Any) -> dict[str, Any]:
    response = client.get(ROUTE, params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_every_figure(
    services_client: TestClient, tokens: dict[str, str], business_db: Any, rows: str, tag: str
) -> None:
    before = get(services_client, tokens["viewer"])
    add_leads(business_db, tag, [("new", "cold"), ("qualified", "hot"), ("won", "hot"), ("lost", "warm")])
    body = get(services_client, tokens["viewer"])
    dag_id = rows

    mine = {(w["status"]): w["count"] for w in body["workflows"] if w["dag_id"] == dag_id}
    assert mine == {"running": 2, "completed": 1, "compensated": 2, "compensation_failed": 1}

    [stage] = [s for s in body["waiting_by_stage"] if s["dag_id"] == dag_id]
    assert (stage["stage"], stage["pending"]) == ("review", 2)
    assert stage["oldest_hours"] == pytest.approx(3650 * 24, abs=0.1)

    waiting = {w["assignee"]: w for w in body["waiting_on"]}
    assert waiting[f"alice-{tag}"]["pending"] == 2 and waiting[f"bob-{tag}"]["pending"] == 1
    assert waiting[f"bob-{tag}"]["oldest_hours"] == pytest.approx(1, abs=0.1)

    assert body["overdue"]["after_hours"] == 48
    oldest = body["overdue"]["oldest"][0]
    assert (oldest["request_id"], oldest["assignees"]) == (f"{dag_id}:0:review", [f"alice-{tag}"])
    assert all(o["waiting_hours"] >= 48 for o in body["overdue"]["oldest"])

    windows = body["compensations"]["by_window"]
    assert windows["7d"][dag_id] == {"compensated": 1}
    assert windows["30d"][dag_id] == {"compensated": 1, "compensation_failed": 1}

    [errors] = [e for e in body["outside_errors"] if e["system"] == f"sys-{tag}"]
    assert (errors["calls"], errors["errors"], errors["error_rate"]) == (4, 1, 0.25)  # 24 h window

    old, new = before["lead_funnel"], body["lead_funnel"]
    assert new["scored"] - old["scored"] == 4 and new["lost"] - old["lost"] == 1
    reached = [n["reached"] - o["reached"] for o, n in zip(old["steps"], new["steps"], strict=True)]
    assert reached == [3, 2, 2, 1, 1]  # won went through every stage, qualified through three
    assert set(body["query_ms"]) == {
        "workflows",
        "waiting_by_stage",
        "waiting_on",
        "overdue",
        "compensations",
        "outside_errors",
        "lead_funnel",
    }


def test_the_overdue_threshold_is_a_parameter(
    services_client: TestClient, tokens: dict[str, str], rows: str
) -> None:
    loose = get(services_client, tokens["viewer"], overdue_after_hours=0.5)
    strict = get(services_client, tokens["viewer"], overdue_after_hours=24 * 365)
    assert loose["overdue"]["total"] - strict["overdue"]["total"] >= 1  # the 1-hour-old one counts at 0.5 h


@pytest.mark.parametrize("value", ["0", "-3", "nope", str(24 * 366)])
def test_a_bad_threshold_is_a_422_naming_it(
    services_client: TestClient, tokens: dict[str, str], value: str
) -> None:
    response = services_client.get(
        ROUTE, params={"overdue_after_hours": value}, headers=bearer(tokens["viewer"])
    )
    assert (response.status_code, response.json()["field"]) == (422, "overdue_after_hours")


def test_the_task_function_gives_the_same_dashboard(rows: str) -> None:
    from execution_plane.services.dashboard import dashboard_task

    body = dashboard_task(overdue_after_hours=48)
    assert {w["status"] for w in body["workflows"] if w["dag_id"] == rows} == {
        "running",
        "completed",
        "compensated",
        "compensation_failed",
    }


def test_the_workflow_figures_narrowed_to_some_types_count_only_theirs(rows: str) -> None:
    """What the Workflows page shows above its list: the same queries, of the types its reader may read, in
    the caller's transaction. The whole dashboard answers the same figures for those types."""
    from datetime import UTC, datetime

    from execution_plane.services import dashboard, db
    from include.services.dashboard import windows

    now = datetime.now(UTC)
    whole = dashboard.aggregate(overdue_after_hours=48, now=now)
    mine = db.transaction(lambda cur: dashboard.workflow_figures(cur, windows(now), dag_ids=[rows]))
    assert {w.dag_id for w in mine.workflows} == {rows}
    assert mine.workflows == [w for w in whole.workflows if w.dag_id == rows]
    assert mine.waiting_by_stage == [s for s in whole.waiting_by_stage if s.dag_id == rows]
    assert {w.assignee: w.pending for w in mine.waiting_on} == {f"alice-{rows[5:]}": 2, f"bob-{rows[5:]}": 1}
    assert mine.overdue.total == 1 and {o.dag_id for o in mine.overdue.oldest} == {rows}
    assert mine.compensations.totals == {"7d": 1, "30d": 2}
    assert mine.compensations.by_window == {
        name: {rows: by_type[rows]} for name, by_type in whole.compensations.by_window.items()
    }
    none = db.transaction(lambda cur: dashboard.workflow_figures(cur, windows(now), dag_ids=[]))
    assert (none.workflows, none.waiting_on, none.overdue.total) == ([], [], 0)
