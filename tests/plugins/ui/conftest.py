"""Fixtures of the Workflows page tests: the page's app mounted as the API server mounts it (beside Airflow's
own auth manager), tokens for each kind of user, the DAGs of two test workflow types registered in Airflow's
metadata database (so the auth manager lists them as readable) and business rows of each kind of workflow.

Type B's DAG lives in a bundle owned by a team (what a bundle's ``team_name`` makes the dag-processor write):
Airflow's auth manager lets a user outside that team read type A's DAG and not type B's (``outsider``).

What Airflow says runs are parked on (an outside event, a date, an approval's expiry) is given by the test
(``parked``): the route tests check what the page makes of it; tests/e2e/test_workflows_page_live.py reads it
from a real Airflow.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from execution_plane.saga.keys import child_run_id
from execution_plane.ui.app import URL_PREFIX, create_app
from execution_plane.ui.parked import ParkedWait

BUNDLE = "ui-page-tests"
TEAM = "ui-page-tests-team"
TEAM_BUNDLE = "ui-page-tests-team-bundle"


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    from airflow.api_fastapi.app import init_auth_manager

    root = FastAPI()
    init_auth_manager(root)
    root.mount(URL_PREFIX, create_app())
    with TestClient(root) as test_client:
        yield test_client
    from execution_plane.services import db

    db.close_pool()


@pytest.fixture(scope="session")
def tokens(client: TestClient) -> dict[str, str]:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = get_auth_manager()
    users = {
        "admin": SimpleAuthManagerUser(username="ui-admin", role="admin"),
        "viewer": SimpleAuthManagerUser(username="ui-viewer", role="viewer", teams=[TEAM]),
        "outsider": SimpleAuthManagerUser(username="ui-outsider", role="viewer"),
        "no_role": SimpleAuthManagerUser(username="ui-none", role=None),
    }
    return {name: manager.generate_jwt(user) for name, user in users.items()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Dataset:
    tag: str
    a: str
    b: str
    now: datetime
    ids: dict[str, str] = field(default_factory=dict)
    parked: list[ParkedWait] = field(default_factory=list)

    def wf(self, name: str) -> str:
        return self.ids[name]


def _register_dags(dag_ids: dict[str, str]) -> None:
    """{dag_id: bundle}: the DAG rows the dag-processor would write; the team bundle owned by ``TEAM``."""
    from airflow.models import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.team import Team
    from airflow.utils.session import create_session

    with create_session() as session:
        if session.get(DagBundleModel, BUNDLE) is None:
            session.add(DagBundleModel(name=BUNDLE))
        bundle = session.get(DagBundleModel, TEAM_BUNDLE)
        if bundle is None:
            bundle = DagBundleModel(name=TEAM_BUNDLE)
            session.add(bundle)
        # Every time: a dag-processor syncing its own bundle list drops the teams of bundles it does not list.
        bundle.teams = [session.get(Team, TEAM) or Team(name=TEAM)]
        session.flush()
        for dag_id, bundle_name in dag_ids.items():
            session.add(
                DagModel(
                    dag_id=dag_id,
                    bundle_name=bundle_name,
                    max_active_tasks=16,
                    max_consecutive_failed_dag_runs=0,
                    has_task_concurrency_limits=False,
                )
            )


def _forget_dags(dag_ids: list[str]) -> None:
    from airflow.models import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        for dag_id in dag_ids:
            model = session.get(DagModel, dag_id)
            if model is not None:
                session.delete(model)


@pytest.fixture
def data(business_db: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dataset]:
    """Two workflow types of this test only, and one workflow of each kind (see the table below)."""
    tag = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    ds = Dataset(tag=tag, a=f"uitest_{tag}_a", b=f"uitest_{tag}_b", now=now)
    _register_dags({ds.a: BUNDLE, ds.b: TEAM_BUNDLE})
    h = timedelta(hours=1)
    # name: (type, business key, saga status, started hours ago)
    rows = {
        "approval": (ds.a, f"ACME-{tag}-1", "running", 80),
        "partner": (ds.a, f"ACME-{tag}-2", "running", 70),
        "dated": (ds.a, f"GLOBEX-{tag}-3", "running", 60),
        "working": (ds.a, f"GLOBEX-{tag}-4", "running", 50),
        "done": (ds.a, f"INITECH-{tag}-5", "completed", 40),
        "undone": (ds.a, f"=HYPERLINK-{tag}-6", "compensated", 30),
        "b_waiting": (ds.b, f"UMBRELLA-{tag}-7", "running", 20),
        "b_rejected": (ds.b, f"UMBRELLA-{tag}-8", "rejected", 10),
    }
    with business_db.cursor() as cur:
        for name, (dag_id, key, status, hours) in rows.items():
            wf = f"{dag_id}:{key.replace('=', 'x')}"
            ds.ids[name] = wf
            run_id = child_run_id(ds.wf("done"), "signing") if name == "b_waiting" else f"run_{name}_{tag}"
            cur.execute(
                "INSERT INTO saga_workflows (workflow_id, dag_id, run_id, business_key, status, reason,"
                " compensation_run_id, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    wf,
                    dag_id,
                    run_id,
                    key,
                    status,
                    "rejected at legal_review by legal: terms"
                    if status in ("rejected", "compensated")
                    else None,
                    f"compensate__{wf}" if status not in ("running", "completed") else None,
                    now - hours * h,
                    now - (hours - 5) * h,
                ),
            )

        def approval(
            name: str,
            stage: str,
            who: list[str],
            status: str,
            opened_h: float,
            decided_h: float | None,
            by: str | None = None,
            comment: str | None = None,
        ) -> None:
            wf = ds.wf(name)
            dag_id = wf.split(":")[0]
            cur.execute(
                "INSERT INTO approval_requests (request_id, workflow_id, stage, dag_id, run_id, task_id,"
                " assignees, subject, status, decision, decided_by, decided_at, comment, created_at)"
                " VALUES (%s, %s, %s, %s, 'r', %s, %s, 's', %s, %s, %s, %s, %s, %s)",
                (
                    f"{wf}:{stage}",
                    wf,
                    stage,
                    dag_id,
                    stage,
                    who,
                    status,
                    {"approved": "Approve", "rejected": "Reject"}.get(status),
                    by,
                    None if decided_h is None else now - decided_h * h,
                    comment,
                    now - opened_h * h,
                ),
            )

        approval("approval", "manager_approval", [f"alice_{tag}"], "pending", 72, None)
        approval(
            "done", "manager_approval", [f"alice_{tag}"], "approved", 39, 36, f"alice_{tag}", "fine by me"
        )
        approval("undone", "manager_approval", [f"alice_{tag}"], "approved", 29, 27, f"alice_{tag}", "ok")
        approval(
            "undone", "legal_review", [f"bob_{tag}"], "rejected", 27, 26, f"bob_{tag}", "terms unacceptable"
        )
        approval("b_waiting", "board_approval", [f"bob_{tag}"], "pending", 2, None)

        def step(
            name: str,
            step: str,
            effect: str,
            done_h: float,
            undo: str | None = None,
            undone_h: float | None = None,
        ) -> None:
            wf = ds.wf(name)
            key = f"{wf}:{step}"
            cur.execute(
                "INSERT INTO idempotency_keys (key, scope, workflow_id, request_hash, status, result)"
                " VALUES (%s, 'step', %s, 'h', 'done', %s)",
                (key, wf, json.dumps({"ok": step})),
            )
            cur.execute(
                "INSERT INTO saga_steps (workflow_id, step, idempotency_key, side_effect,"
                " compensation_action, status, compensation_reason, done_at, compensated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    wf,
                    step,
                    key,
                    effect,
                    undo,
                    "compensated" if undone_h else "done",
                    "rejected at legal_review" if undone_h else None,
                    now - done_h * h,
                    None if undone_h is None else now - undone_h * h,
                ),
            )

        step("approval", "identify_partner", "crm.read", 79)
        step("working", "draft_terms", "docstore.put", 49)
        step("done", "identify_partner", "crm.read", 39.5)
        step("done", "activate", "crm.update", 35)
        step("undone", "term_sheet", "docstore.put", 28, undo="docstore.retract", undone_h=25)
        cur.execute(
            "INSERT INTO external_events (event_id, source, event_type, correlation_key, payload,"
            " received_at) VALUES (%s, 'partner', 'partner.accepted', %s, '{\"note\": \"agreed\"}', %s)",
            (f"ev-{tag}", f"{ds.wf('done')}:round:1", now - 37 * h),
        )
        # Keyed by the workflow id itself (a wait without parts: ``correlation_key(workflow_id)``).
        cur.execute(
            "INSERT INTO external_events (event_id, source, event_type, correlation_key, payload,"
            " received_at) VALUES (%s, 'esign', 'envelope.signed', %s, '{}', %s)",
            (f"ev-{tag}-own", ds.wf("done"), now - 36.5 * h),
        )
        cur.execute(
            "INSERT INTO documents (sha256, kind, uri, size_bytes, workflow_id, created_at)"
            " VALUES (%s, 'term_sheet', %s, 1234, %s, %s)",
            (f"{tag}" * 8, f"docstore://{tag}", ds.wf("done"), now - 38 * h),
        )
        cur.execute(
            "INSERT INTO evidence_packs (workflow_id, deal_id, manifest, manifest_sha256, document_sha256)"
            " VALUES (%s, %s, '{}', %s, %s)",
            (ds.wf("done"), f"D-{tag}", "m" * 64, "p" * 64),
        )
    # The audit chain is append-only: real links, written as the ledger writes them (they stay).
    from execution_plane.saga import audit

    with business_db.cursor() as cur:
        cur.execute("BEGIN")
        for action in ("workflow.started", "approval.approved", "workflow.completed"):
            audit.append(cur, actor="test", workflow_id=ds.wf("done"), action=action, details={"tag": tag})
        cur.execute("COMMIT")
    ds.parked = [
        ParkedWait(
            ds.a,
            f"run_approval_{tag}",
            "manager_approval",
            "person",
            (f"alice_{tag}",),
            "approval",
            now - 72 * h,
            now + 24 * h,
        ),
        ParkedWait(
            ds.a,
            f"run_partner_{tag}",
            "partner_response",
            "system",
            ("partner",),
            f"partner event ({ds.wf('partner')}:round:1)",
            now - 60 * h,
            now - 1 * h,
        ),
        ParkedWait(
            ds.a, f"run_dated_{tag}", "wait_day30", "date", ("date",), "a date", now - 50 * h, now + 48 * h
        ),
    ]
    monkeypatch.setattr(
        "execution_plane.ui.workflows.parked_waits",
        lambda dag_ids: [w for w in ds.parked if w.dag_id in dag_ids],
    )
    yield ds
    with business_db.cursor() as cur:
        ids = list(ds.ids.values())
        for table in ("saga_steps", "approval_requests", "documents", "evidence_packs", "idempotency_keys"):
            cur.execute(f"DELETE FROM {table} WHERE workflow_id = ANY(%s)", (ids,))
        cur.execute("DELETE FROM external_events WHERE event_id = ANY(%s)", ([f"ev-{tag}", f"ev-{tag}-own"],))
        cur.execute("DELETE FROM saga_workflows WHERE workflow_id = ANY(%s)", (ids,))
    _forget_dags([ds.a, ds.b])
