"""health_check through dag.test(): the DAG kept, its steps now the toolkit's health service (the same code
as GET /services/health), against the sandbox of outside systems and the business database."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.workflow_runs import load_dag, paused

DAG_ID = "health_check"


@pytest.fixture(scope="module")
def dag() -> Iterator[Any]:
    dag = load_dag(DAG_ID)
    with paused(DAG_ID):
        yield dag


def task_states(run: Any) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_healthy_run_probes_everything_and_records_it(dag: Any, sandbox: Any, business_db: Any) -> None:
    with business_db.cursor() as cur:
        cur.execute("SELECT now()")
        started = cur.fetchone()[0]
    try:
        run = dag.test()
        assert run.state == "success", task_states(run)
        report = run.get_task_instance("summarize_status").xcom_pull(task_ids="summarize_status")
        assert report["status"] == "healthy"
        assert {p["service"] for p in report["probes"]} >= {
            "execution_plane_db",
            "crm_default",
            "llm_default",
        }
        with business_db.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM outside_calls WHERE source = 'health_check' AND at >= %s", (started,)
            )
            assert cur.fetchone()[0] == len(report["probes"]) - 1
    finally:
        with business_db.cursor() as cur:
            cur.execute("DELETE FROM outside_calls WHERE source = 'health_check' AND at >= %s", (started,))


def test_a_critical_outage_fails_the_run(
    dag: Any,
    sandbox: Any,
    business_db: Any,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    from execution_plane.services import connections

    var = "AIRFLOW_CONN_ESIGN_DEFAULT"
    monkeypatch.setenv(
        var, json.dumps({**json.loads(os.environ[var]), "host": "http://127.0.0.1:9/esign/v1"})
    )
    connections.clear()  # the probes' cached lookups: the changed connection counts now
    request.addfinalizer(connections.clear)
    with business_db.cursor() as cur:
        cur.execute("SELECT now()")
        started = cur.fetchone()[0]
    try:
        run = dag.test()
        assert run.state == "failed"
        assert task_states(run)["summarize_status"] == "failed"
    finally:
        with business_db.cursor() as cur:
            cur.execute("DELETE FROM outside_calls WHERE source = 'health_check' AND at >= %s", (started,))
