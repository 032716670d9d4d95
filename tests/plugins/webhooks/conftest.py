"""Fixtures for the webhook ingress tests: the app, signed requests, the test DAGs, row counting.

Everything runs against the real test databases that ``python -m devtools setup`` created: the business DB
(``external_events`` with its NOTIFY trigger) and Airflow's metadata DB (DAGs serialized from ./dags).
Each test tags its event ids with a fresh uuid and deletes the rows carrying it afterwards.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from execution_plane.webhooks import credentials, db, workflows
from execution_plane.webhooks.app import create_app
from execution_plane.webhooks.workflows import StartParams
from include.security.hmac_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.plugins.webhooks.webhook_support import (
    BUNDLE,
    DAGS_DIR,
    MISSING_DAG_ID,
    PAUSED_DAG_ID,
    ROUTE_CONN_IDS,
    STARTABLE_DAG_ID,
    Post,
    RunParams,
)


@pytest.fixture(scope="session")
def secrets() -> dict[str, str]:
    """Route -> HMAC secret, read from the Airflow connections the app reads."""
    from airflow.sdk import Connection

    return {route: str(Connection.get(conn_id).password) for route, conn_id in ROUTE_CONN_IDS.items()}


@pytest.fixture(scope="session")
def app_client() -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client
    db.close_pool()


@pytest.fixture
def tag(business_db: Any) -> Iterator[str]:
    """A unique marker for this test's event ids; its inbox rows and start requests are deleted afterwards."""
    value = uuid.uuid4().hex
    yield value
    with business_db.cursor() as cur:
        cur.execute("DELETE FROM external_events WHERE event_id LIKE %s", (f"%{value}%",))
        cur.execute("DELETE FROM run_starts WHERE event_id LIKE %s", (f"%{value}%",))


@pytest.fixture
def inbox_rows(business_db: Any) -> Callable[[str], list[dict[str, Any]]]:
    """Inbox rows whose event_id contains ``marker``."""

    def rows(marker: str) -> list[dict[str, Any]]:
        with business_db.cursor() as cur:
            cur.execute(
                """
                SELECT event_id, source, event_type, correlation_key, payload
                FROM external_events WHERE event_id LIKE %s ORDER BY event_id
                """,
                (f"%{marker}%",),
            )
            names = [column[0] for column in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    return rows


@pytest.fixture
def post(app_client: TestClient, secrets: dict[str, str]) -> Post:
    """``post(route, body, ...)``: a request signed like a sender signs it, each part overridable."""

    def send(
        route: str,
        body: dict[str, Any] | bytes,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
        drop: tuple[str, ...] = (),
    ) -> Any:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        ts = int(time.time()) if timestamp is None else timestamp
        conn_route = "/events/partner" if route.startswith("/events/") else route
        all_headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign(secret or secrets[conn_route], ts, raw),
            **(headers or {}),
        }
        for name in drop:
            all_headers.pop(name)
        return app_client.post(route, content=raw, headers=all_headers)

    return send


@pytest.fixture(scope="session")
def test_dags() -> Iterator[None]:
    """Serialize ./dags into the metadata DB as the dag-processor would; delete them at the end."""
    from airflow.api.common.delete_dag import delete_dag
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.utils.session import create_session

    with create_session() as session:
        if session.get(DagBundleModel, BUNDLE) is None:
            session.add(DagBundleModel(name=BUNDLE))
    bag = DagBag(dag_folder=DAGS_DIR, bundle_path=DAGS_DIR, bundle_name=BUNDLE)
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, BUNDLE, None)
    with create_session() as session:
        for dag_id, paused in ((STARTABLE_DAG_ID, False), (PAUSED_DAG_ID, True)):
            session.get_one(DagModel, dag_id).is_paused = paused
    yield
    from airflow.exceptions import DagNotFound

    # Two test processes may each have written them (test_webhook_ends_waits runs in the "runs" group, the
    # other modules in "ingress"): the first to finish deletes them.
    for dag_id in (STARTABLE_DAG_ID, PAUSED_DAG_ID):
        with create_session() as session, contextlib.suppress(DagNotFound):
            delete_dag(dag_id, keep_records_in_log=False, session=session)
    with create_session() as session:
        session.delete(session.get_one(DagBundleModel, BUNDLE))


@pytest.fixture
def startable(monkeypatch: pytest.MonkeyPatch, test_dags: None) -> dict[str, type[StartParams]]:
    """Make the test DAGs (and one that Airflow does not know) startable for this test."""
    registry = workflows.STARTABLE_WORKFLOWS
    for dag_id in (STARTABLE_DAG_ID, PAUSED_DAG_ID, MISSING_DAG_ID):
        monkeypatch.setitem(registry, dag_id, RunParams)
    return registry


@pytest.fixture
def dag_runs() -> Callable[[str], list[dict[str, Any]]]:
    """DagRun rows (any DAG) whose run_id is ``run_id``."""

    def rows(run_id: str) -> list[dict[str, Any]]:
        from airflow.models import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            return [
                {
                    "dag_id": run.dag_id,
                    "conf": run.conf,
                    "run_type": str(run.run_type),
                    "triggered_by": run.triggered_by.value if run.triggered_by else None,
                    "triggering_user_name": run.triggering_user_name,
                    "logical_date": run.logical_date,
                }
                for run in session.scalars(select(DagRun).where(DagRun.run_id == run_id))
            ]

    return rows


@pytest.fixture
def fresh_credentials() -> Iterator[None]:
    """Tests that change a connection must not see (or leave) a cached one."""
    credentials.clear_cache()
    yield
    credentials.clear_cache()
