"""``POST /crm/events``: stores the request and answers, then the starter starts the workflow's DAG run once
per CRM event, in the real metadata DB."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from execution_plane.webhooks import workflows
from execution_plane.webhooks.app import STARTER, create_app
from tests.plugins.webhooks.webhook_support import (
    MISSING_DAG_ID,
    PAUSED_DAG_ID,
    STARTABLE_DAG_ID,
    LooseRunParams,
    Post,
    crm_body,
)

pytestmark = pytest.mark.usefixtures("startable")

Rows = Callable[[str], list[dict[str, Any]]]


def started(dag_runs: Rows, run_id: str, timeout: float = 30) -> list[dict[str, Any]]:
    """The runs with ``run_id`` once the starter started one (it is woken by each delivery)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rows := dag_runs(run_id):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"no run {run_id} started within {timeout} s")


def test_new_event_starts_the_run(post: Post, tag: str, dag_runs: Rows, inbox_rows: Rows) -> None:
    response = post("/crm/events", crm_body(tag))

    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "dag_id": STARTABLE_DAG_ID, "run_id": f"crm__crm_{tag}"}
    [run] = started(dag_runs, f"crm__crm_{tag}")
    assert run["dag_id"] == STARTABLE_DAG_ID
    assert run["conf"] == {"request_id": f"req_{tag}", "amount": 3}
    assert run["logical_date"] is None
    assert run["run_type"] == "manual"
    assert run["triggered_by"] == "rest_api"
    assert run["triggering_user_name"] == "webhook:crm"
    [row] = inbox_rows(tag)
    assert row["event_id"] == f"crm:crm_{tag}"
    assert row["source"] == "crm"
    assert row["event_type"] == "workflow.start_requested"
    assert row["correlation_key"] == f"crm:{STARTABLE_DAG_ID}:req_{tag}"
    assert row["payload"]["workflow"] == STARTABLE_DAG_ID
    assert row["payload"]["payload"] == {"request_id": f"req_{tag}", "amount": 3}


def test_duplicate_delivery_starts_nothing(post: Post, tag: str, dag_runs: Rows, inbox_rows: Rows) -> None:
    assert post("/crm/events", crm_body(tag)).status_code == 202
    started(dag_runs, f"crm__crm_{tag}")

    again = post("/crm/events", crm_body(tag))

    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "dag_id": STARTABLE_DAG_ID, "run_id": f"crm__crm_{tag}"}
    time.sleep(0.5)  # the starter, woken by the duplicate too, has nothing to start
    assert len(dag_runs(f"crm__crm_{tag}")) == 1
    assert len(inbox_rows(tag)) == 1


def test_concurrent_duplicate_deliveries_start_one_run(
    secrets: dict[str, str], tag: str, dag_runs: Rows
) -> None:
    import json
    import time

    from include.security.hmac_signing import signed_headers

    body = json.dumps(crm_body(tag)).encode()

    def deliver(_: int) -> int:
        with TestClient(create_app()) as client:
            headers = signed_headers(secrets["/crm/events"], body, time.time())
            return client.post("/crm/events", content=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(deliver, range(4)))

    assert statuses == [200, 200, 200, 202]
    STARTER.wake()  # each client's lifespan stopped the shared starter when it closed
    assert len(started(dag_runs, f"crm__crm_{tag}")) == 1


def test_event_id_reused_for_another_workflow_is_409(
    post: Post, tag: str, dag_runs: Rows, inbox_rows: Rows
) -> None:
    assert post("/crm/events", crm_body(tag)).status_code == 202
    started(dag_runs, f"crm__crm_{tag}")

    response = post("/crm/events", crm_body(tag, workflow=PAUSED_DAG_ID))

    assert response.status_code == 409
    assert response.json()["error"] == "event_id_conflict"
    assert response.json()["field"] == "event_id"
    assert [run["dag_id"] for run in dag_runs(f"crm__crm_{tag}")] == [STARTABLE_DAG_ID]
    assert len(inbox_rows(tag)) == 1


def test_paused_workflow_is_409_and_writes_nothing(
    post: Post, tag: str, dag_runs: Rows, inbox_rows: Rows
) -> None:
    response = post("/crm/events", crm_body(tag, workflow=PAUSED_DAG_ID))

    assert response.status_code == 409
    assert response.json() == {
        "error": "workflow_paused",
        "message": f"workflow {PAUSED_DAG_ID!r} is paused in Airflow",
        "field": "workflow",
    }
    assert dag_runs(f"crm__crm_{tag}") == []
    assert inbox_rows(tag) == []


def test_workflow_missing_in_airflow_is_503_and_writes_nothing(
    post: Post, tag: str, dag_runs: Rows, inbox_rows: Rows
) -> None:
    response = post("/crm/events", crm_body(tag, workflow=MISSING_DAG_ID))

    assert response.status_code == 503
    assert response.json()["error"] == "workflow_unavailable"
    assert response.json()["field"] == "workflow"
    assert dag_runs(f"crm__crm_{tag}") == []
    assert inbox_rows(tag) == []


def test_unknown_workflow_is_404_and_writes_nothing(
    post: Post, tag: str, dag_runs: Rows, inbox_rows: Rows
) -> None:
    response = post("/crm/events", crm_body(tag, workflow="health_check"))

    assert response.status_code == 404
    assert response.json() == {
        "error": "unknown_workflow",
        "message": "workflow 'health_check' cannot be started by webhook",
        "field": "workflow",
    }
    assert dag_runs(f"crm__crm_{tag}") == []
    assert inbox_rows(tag) == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"request_id": "r1", "amount": 0}, "payload.amount"),
        ({"request_id": "r1"}, "payload.amount"),
        ({"request_id": "r 1", "amount": 2}, "payload.request_id"),
        ({"request_id": "r1", "amount": 2, "unexpected": True}, "payload.unexpected"),
    ],
)
def test_invalid_payload_is_422_naming_the_field(
    post: Post, tag: str, dag_runs: Rows, inbox_rows: Rows, payload: dict[str, Any], field: str
) -> None:
    response = post("/crm/events", crm_body(tag, payload=payload))

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_body"
    assert response.json()["field"] == field
    assert dag_runs(f"crm__crm_{tag}") == []
    assert inbox_rows(tag) == []


def test_params_the_dag_refuses_are_422_and_write_nothing(
    post: Post, tag: str, dag_runs: Rows, inbox_rows: Rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ingress model lets amount=0 through; the DAG's own Param(minimum=1) must still stop the run.
    monkeypatch.setitem(workflows.STARTABLE_WORKFLOWS, STARTABLE_DAG_ID, LooseRunParams)

    response = post("/crm/events", crm_body(tag, payload={"request_id": "r1", "amount": 0}))

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_params"
    assert response.json()["field"] == "payload"
    assert dag_runs(f"crm__crm_{tag}") == []
    assert inbox_rows(tag) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_id", ""),
        ("event_id", "x" * 129),
        ("event_id", "has/slash"),
        ("event_id", "a..b"),
        ("occurred_at", "yesterday"),
        ("workflow", ""),
        ("payload", "not an object"),
    ],
)
def test_invalid_envelope_is_422_naming_the_field(
    post: Post, tag: str, inbox_rows: Rows, field: str, value: Any
) -> None:
    response = post("/crm/events", crm_body(tag, **{field: value}))

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert inbox_rows(tag) == []


def test_missing_envelope_field_is_422(post: Post, tag: str) -> None:
    body = crm_body(tag)
    del body["occurred_at"]

    response = post("/crm/events", body)

    assert response.status_code == 422
    assert response.json()["fields"] == [{"field": "occurred_at", "message": "Field required"}]


VALID_PAYLOADS: dict[str, dict[str, Any]] = {
    "partner_approval": {"request_id": "pa-1", "partner_id": "ptn_1", "requested_by": "ops@example.com"},
    "dd_room": {
        "request_id": "dd-1",
        "deal_id": "deal_1",
        "target_company": "Acme",
        "base_valuation_usd": 12_000_000,
        "target_contact_email": "dd@acme.example",
    },
    "signature_commitment": {
        "request_id": "sc-1",
        "deal_id": "deal_1",
        "partner_id": "ptn_1",
        "terms": {"revenue_share_pct": 20},
        "approval_token": "tok",
        "signer_email": "signer@example.com",
        "signer_name": "Sam Signer",
    },
}


@pytest.mark.parametrize("dag_id", sorted(VALID_PAYLOADS))
def test_param_models_accept_their_contract(dag_id: str) -> None:
    params = workflows.STARTABLE_WORKFLOWS[dag_id].model_validate(VALID_PAYLOADS[dag_id])

    assert params.model_dump(mode="json")["request_id"] == VALID_PAYLOADS[dag_id]["request_id"]


@pytest.mark.parametrize(
    ("dag_id", "change", "field"),
    [
        ("partner_approval", {"max_negotiation_rounds": 9}, "payload.max_negotiation_rounds"),
        ("partner_approval", {"partner_id": None}, "payload.partner_id"),
        ("dd_room", {"base_valuation_usd": 0}, "payload.base_valuation_usd"),
        ("dd_room", {"target_contact_email": "nobody"}, "payload.target_contact_email"),
        ("signature_commitment", {"signer_email": "not-an-email"}, "payload.signer_email"),
        ("signature_commitment", {"terms": {}}, "payload.terms"),
    ],
)
def test_project_workflow_payloads_are_validated(
    post: Post, tag: str, inbox_rows: Rows, dag_id: str, change: dict[str, Any], field: str
) -> None:
    payload = {k: v for k, v in {**VALID_PAYLOADS[dag_id], **change}.items() if v is not None}

    response = post("/crm/events", crm_body(tag, workflow=dag_id, payload=payload))

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert inbox_rows(tag) == []
