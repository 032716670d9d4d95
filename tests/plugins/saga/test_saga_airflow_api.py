"""Starting compensation through Airflow's REST API: the client, the failure callback, the reconciler and
the run outcomes. A stub of the API (FastAPI under uvicorn on loopback) stands in for Airflow; the
business database is the real test one."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn
from airflow.sdk.exceptions import AirflowFailException
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from devtools.env import free_port
from execution_plane.saga import airflow_api, callbacks, outcomes, reconciler
from execution_plane.saga.airflow_api import AirflowApi, compensation_run_id, start_compensation
from execution_plane.saga.steps import Saga

LOGIN, PASSWORD = "svc-execution-plane", "s3cret"


class StubAirflow:
    """Just enough of Airflow 3's public API: JWT login, trigger (409 on a known run id), list/get/patch."""

    def __init__(self) -> None:
        self.app = FastAPI()
        self.reset()
        app = self.app

        def authorized(request: Request) -> bool:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            return scheme == "Bearer" and token in self.valid_tokens

        @app.post("/auth/token", status_code=201)
        async def token(request: Request) -> Any:
            body = await request.json()
            if body != {"username": LOGIN, "password": PASSWORD}:
                return JSONResponse({"detail": "Invalid credentials"}, 401)
            self.logins += 1
            issued = f"tok-{self.logins}"
            self.valid_tokens.add(issued)
            return {"access_token": issued}

        @app.post("/api/v2/dags/{dag_id}/dagRuns")
        async def trigger(dag_id: str, request: Request) -> Any:
            if not authorized(request):
                return JSONResponse({"detail": "Not authenticated"}, 401)
            body = await request.json()
            self.posts.append((dag_id, body))
            if body.get("conf", {}).get("workflow_id") in self.refuse:
                return JSONResponse({"detail": "Invalid input for param workflow_id"}, 400)
            key = (dag_id, body["dag_run_id"])
            if key in self.runs:
                return JSONResponse({"detail": f"DAG run {body['dag_run_id']} already exists"}, 409)
            self.runs[key] = {"dag_id": dag_id, "state": "queued", **body}
            return self.runs[key]

        @app.get("/api/v2/dags/{dag_id}/dagRuns")
        async def list_runs(
            dag_id: str, request: Request, limit: int = 100, offset: int = 0, state: str | None = None
        ) -> Any:
            if not authorized(request):
                return JSONResponse({"detail": "Not authenticated"}, 401)
            self.listed.append((dag_id, dict(request.query_params)))
            if dag_id in self.missing_dags:
                return JSONResponse({"detail": "DAG not found"}, 404)
            runs = [r for r in self.dag_runs.get(dag_id, []) if state is None or r["state"] == state]
            return {"dag_runs": runs[offset : offset + limit], "total_entries": len(runs)}

        @app.get("/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        async def get_run(dag_id: str, run_id: str, request: Request) -> Any:
            if not authorized(request):
                return JSONResponse({"detail": "Not authenticated"}, 401)
            run = self.runs.get((dag_id, run_id))
            return run if run is not None else JSONResponse({"detail": "not found"}, 404)

        @app.patch("/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        async def patch_run(dag_id: str, run_id: str, request: Request, update_mask: str = "") -> Any:
            if not authorized(request):
                return JSONResponse({"detail": "Not authenticated"}, 401)
            body = await request.json()
            self.notes.append((dag_id, run_id, update_mask, body.get("note")))
            return {"dag_id": dag_id, "dag_run_id": run_id, "note": body.get("note")}

        @app.get(
            "/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}"
            "/hitlDetails/tries/{try_number}"
        )
        async def hitl(
            dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int, request: Request
        ) -> Any:
            if not authorized(request):
                return JSONResponse({"detail": "Not authenticated"}, 401)
            detail = self.hitl.get((dag_id, run_id, task_id, map_index, try_number))
            return detail if detail is not None else JSONResponse({"detail": "not found"}, 404)

    def reset(self) -> None:
        self.logins = 0
        self.valid_tokens: set[str] = set()
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.runs: dict[tuple[str, str], dict[str, Any]] = {}
        self.dag_runs: dict[str, list[dict[str, Any]]] = {}
        self.missing_dags: set[str] = set()
        self.refuse: set[str] = set()
        self.listed: list[tuple[str, dict[str, str]]] = []
        self.notes: list[tuple[str, str, str, str | None]] = []
        self.hitl: dict[tuple[str, str, str, int, int], dict[str, Any]] = {}

    def compensation_runs(self) -> dict[str, dict[str, Any]]:
        return {run_id: run for (dag_id, run_id), run in self.runs.items() if dag_id == "saga_compensation"}


@pytest.fixture(scope="module")
def stub_server():
    stub = StubAirflow()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(stub.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "stub Airflow API did not start"
        time.sleep(0.05)
    stub.url = f"http://127.0.0.1:{port}"
    yield stub
    server.should_exit = True
    thread.join(10)


def point_api_at(monkeypatch, url: str, password: str = PASSWORD) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_AIRFLOW_API",
        json.dumps({"conn_type": "http", "host": url, "login": LOGIN, "password": password}),
    )


@pytest.fixture
def stub(stub_server, monkeypatch):
    stub_server.reset()
    monkeypatch.setattr(airflow_api, "_TOKEN_CACHE", {})
    point_api_at(monkeypatch, stub_server.url)
    return stub_server


@pytest.fixture
def api_down(monkeypatch):
    """The airflow_api connection points at a loopback port nobody listens on."""
    monkeypatch.setattr(airflow_api, "_TOKEN_CACHE", {})
    point_api_at(monkeypatch, f"http://127.0.0.1:{free_port()}")


def fetch(db, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return list(cur.fetchall())


# ---------------------------------------------------------------------------------------------- client
class TestAirflowApi:
    def test_start_compensation_twice_starts_one_run(self, stub):
        wf = f"partner_onboarding:{uuid.uuid4().hex}"
        assert start_compensation(wf, reason="rejected at legal", bad_ending="rejected", source="test")
        assert not start_compensation(wf, reason="rejected at legal", bad_ending="rejected", source="test")
        runs = stub.compensation_runs()
        assert list(runs) == [f"compensate__{wf}"] == [compensation_run_id(wf)]
        run = runs[f"compensate__{wf}"]
        assert run["conf"] == {
            "workflow_id": wf,
            "reason": "rejected at legal",
            "bad_ending": "rejected",
            "source": "test",
        }
        assert run["logical_date"] is None
        assert run["note"] == "rejected: rejected at legal"
        assert len(stub.posts) == 2
        assert stub.logins == 1  # the token is reused

    def test_long_reason_is_truncated(self, stub):
        wf = f"partner_onboarding:{uuid.uuid4().hex}"
        start_compensation(wf, reason="x" * 5000, bad_ending="failed", source="test")
        run = stub.compensation_runs()[f"compensate__{wf}"]
        assert len(run["conf"]["reason"]) == 2000
        assert len(run["note"]) == len("failed: ") + 300

    def test_rotated_token_logs_in_again(self, stub):
        api = AirflowApi()
        assert api.trigger("some_dag", "r1", {})
        stub.valid_tokens.clear()  # e.g. a new JWT secret
        assert api.trigger("some_dag", "r2", {})
        assert stub.logins == 2
        assert set(stub.runs) == {("some_dag", "r1"), ("some_dag", "r2")}

    def test_bad_credentials(self, stub, monkeypatch):
        point_api_at(monkeypatch, stub.url, password="wrong")
        with pytest.raises(httpx.HTTPStatusError):
            AirflowApi().trigger("some_dag", "r1", {})
        assert stub.runs == {}

    def test_other_errors_raise(self, stub):
        stub.refuse.add("bad:id")
        with pytest.raises(httpx.HTTPStatusError) as err:
            start_compensation("bad:id", reason="r", bad_ending="failed", source="test")
        assert err.value.response.status_code == 400

    def test_dag_runs(self, stub):
        stub.dag_runs["d"] = [
            {"dag_run_id": f"r{i}", "state": "failed" if i % 2 else "success"} for i in range(5)
        ]
        stub.missing_dags.add("gone")
        api = AirflowApi()
        assert [r["dag_run_id"] for r in api.dag_runs("d", state="failed")] == ["r1", "r3"]
        assert len(api.dag_runs("d")) == 5
        assert api.dag_runs("gone") == []
        assert stub.listed[0][1] == {
            "limit": "100",
            "offset": "0",
            "order_by": "-run_after",
            "state": "failed",
        }

    def test_dag_run_and_note(self, stub):
        api = AirflowApi()
        assert api.dag_run("d", "nope") is None
        api.trigger("d", "r1", {"a": 1})
        assert api.dag_run("d", "r1")["conf"] == {"a": 1}
        api.set_note("d", "r1", "REJECTED: no")
        assert stub.notes == [("d", "r1", "note", "REJECTED: no")]

    def test_hitl_detail_of_try(self, stub):
        stub.hitl[("d", "r", "approve", -1, 1)] = {"response_received": True, "chosen_options": ["Approve"]}
        api = AirflowApi()
        assert api.hitl_detail_of_try("d", "r", "approve", 1)["chosen_options"] == ["Approve"]
        assert api.hitl_detail_of_try("d", "r", "approve", 2) is None


# ---------------------------------------------------------------------------------------------- callback
def failure_context(request_id: str | None, *, in_conf: bool = False, **extra: Any) -> dict[str, Any]:
    params = {} if request_id is None or in_conf else {"request_id": request_id}
    conf = {"request_id": request_id} if in_conf else {}
    return {
        "dag_run": SimpleNamespace(dag_id="partner_onboarding", run_id="manual__2026", conf=conf),
        "params": params,
        **extra,
    }


class TestFailureCallback:
    def test_starts_compensation_with_deterministic_run_id(self, stub):
        request_id = uuid.uuid4().hex
        context = failure_context(
            request_id,
            task_instance=SimpleNamespace(task_id="send_for_signature"),
            exception=ValueError("provider said no"),
            reason="task_failure",
        )
        callbacks.start_compensation_on_failure(context)
        callbacks.start_compensation_on_failure(context)  # a second callback: a 409, nothing more
        wf = f"partner_onboarding:{request_id}"
        runs = stub.compensation_runs()
        assert list(runs) == [f"compensate__{wf}"]
        assert runs[f"compensate__{wf}"]["conf"] == {
            "workflow_id": wf,
            "reason": "task_failure: task send_for_signature failed (ValueError: provider said no)",
            "bad_ending": "failed",
            "source": "on_failure_callback:manual__2026",
        }

    def test_request_id_from_conf(self, stub):
        request_id = uuid.uuid4().hex
        callbacks.start_compensation_on_failure(failure_context(request_id, in_conf=True))
        assert list(stub.compensation_runs()) == [f"compensate__partner_onboarding:{request_id}"]
        assert (
            stub.compensation_runs()[f"compensate__partner_onboarding:{request_id}"]["conf"]["reason"]
            == "run failed"
        )

    def test_no_request_id_starts_nothing(self, stub):
        callbacks.start_compensation_on_failure(failure_context(None))
        assert stub.posts == []

    def test_never_raises_when_the_api_is_down(self, api_down, caplog):
        with caplog.at_level(logging.ERROR):
            callbacks.start_compensation_on_failure(failure_context(uuid.uuid4().hex))
        assert "the reconciler will" in caplog.text

    def test_never_raises_on_api_errors(self, stub):
        request_id = uuid.uuid4().hex
        stub.refuse.add(f"partner_onboarding:{request_id}")
        callbacks.start_compensation_on_failure(failure_context(request_id))
        assert len(stub.posts) == 1

    def test_never_raises_without_the_connection(self, monkeypatch):
        monkeypatch.delenv("AIRFLOW_CONN_AIRFLOW_API", raising=False)
        callbacks.start_compensation_on_failure(failure_context(uuid.uuid4().hex))

    def test_failure_reason(self):
        assert callbacks.failure_reason({}) == "run failed"
        assert callbacks.failure_reason({"ti": SimpleNamespace(task_id="t")}) == "run failed: task t failed"
        long = callbacks.failure_reason({"exception": RuntimeError("x" * 2000)})
        assert long == f"run failed (RuntimeError: {'x' * 500})"


# ---------------------------------------------------------------------------------------------- reconciler
DAG = "saga_reconcile_test"


def make_workflow(
    status: str, *, run_id: str, age_s: int = 0, compensation_run: str | None = None, business_db=None
) -> str:
    context = {
        "dag": SimpleNamespace(dag_id=DAG),
        "params": {"request_id": uuid.uuid4().hex},
        "run_id": run_id,
    }
    with Saga.from_context(context) as saga:
        saga.register()
        if status != "running":
            saga.end(status, f"{status} by test")
    with business_db.cursor() as cur:
        cur.execute(
            "UPDATE saga_workflows SET updated_at = now() - make_interval(secs => %s),"
            " compensation_run_id = %s WHERE workflow_id = %s",
            (age_s, compensation_run, saga.workflow_id),
        )
    return saga.workflow_id


class TestReconciler:
    def test_starts_what_the_callbacks_lost(self, stub, business_db):
        tag = uuid.uuid4().hex[:8]
        rejected = make_workflow("rejected", run_id=f"r_rej_{tag}", business_db=business_db)
        expired = make_workflow("expired", run_id=f"r_exp_{tag}", business_db=business_db)
        handled = make_workflow(
            "rejected",
            run_id=f"r_done_{tag}",
            business_db=business_db,
            compensation_run="compensate__already",
        )
        completed = make_workflow("completed", run_id=f"r_ok_{tag}", business_db=business_db)
        lost = make_workflow("running", run_id=f"r_lost_{tag}", age_s=60, business_db=business_db)
        fresh = make_workflow("running", run_id=f"r_fresh_{tag}", age_s=0, business_db=business_db)
        healthy = make_workflow("running", run_id=f"r_healthy_{tag}", age_s=60, business_db=business_db)
        now = datetime.now(UTC)
        stub.dag_runs[DAG] = [
            {
                "dag_run_id": f"r_lost_{tag}",
                "state": "failed",
                "end_date": (now - timedelta(seconds=60)).isoformat(),
            },
            # Failed a moment ago: within the callback's grace period, the callback still has its turn.
            {"dag_run_id": f"r_fresh_{tag}", "state": "failed", "end_date": now.isoformat()},
            {"dag_run_id": f"r_healthy_{tag}", "state": "running", "end_date": None},
        ]
        result = reconciler.reconcile()
        started = stub.compensation_runs()
        assert rejected in result["started"] and expired in result["started"]
        assert result["lost_callbacks"] == [lost]
        for wf in (rejected, expired, lost):
            assert f"compensate__{wf}" in started
        for wf in (handled, completed, fresh, healthy):
            assert f"compensate__{wf}" not in started
            assert wf not in result["started"]
        assert started[f"compensate__{rejected}"]["conf"] == {
            "workflow_id": rejected,
            "reason": "rejected by test",
            "bad_ending": "rejected",
            "source": "reconciler",
        }
        assert started[f"compensate__{lost}"]["conf"]["bad_ending"] == "failed"
        assert f"run r_lost_{tag} failed" in started[f"compensate__{lost}"]["conf"]["reason"]
        assert any(dag == DAG and q.get("state") == "failed" for dag, q in stub.listed)

        # A second round finds the same workflows but starts nothing new (409s).
        again = reconciler.reconcile()
        assert rejected not in again["started"] and lost not in again["lost_callbacks"]
        # Only this test's workflows: another test's leftover may come of age between the two rounds.
        mine = {f"compensate__{wf}" for wf in (rejected, expired, handled, completed, lost, fresh, healthy)}
        assert stub.compensation_runs().keys() & mine == started.keys() & mine
        assert {f"compensate__{wf}" for wf in (rejected, expired, lost)} <= started.keys()

    def test_uses_the_given_api_and_connection(self, stub, business_db_url, business_db):
        import psycopg2

        rejected = make_workflow("rejected", run_id="r", business_db=business_db)
        conn = psycopg2.connect(business_db_url)
        try:
            result = reconciler.reconcile(api=AirflowApi(), conn=conn)
            assert not conn.closed  # the caller's connection stays the caller's
        finally:
            conn.close()
        assert rejected in result["started"]

    def test_one_refused_workflow_does_not_block_the_others(self, stub, business_db):
        poison = make_workflow("failed", run_id="r_poison", business_db=business_db)
        good = make_workflow("rejected", run_id="r_good", business_db=business_db)
        stub.refuse.add(poison)
        with pytest.raises(RuntimeError, match="could not start compensation") as err:
            reconciler.reconcile()
        assert poison in str(err.value)
        assert f"compensate__{good}" in stub.compensation_runs()


# ---------------------------------------------------------------------------------------------- outcomes
def run_context(request_id: str, dag_id: str = "partner_onboarding") -> dict[str, Any]:
    return {
        "dag": SimpleNamespace(dag_id=dag_id),
        "params": {"request_id": request_id},
        "run_id": f"manual__{request_id[:8]}",
    }


def register(context: dict[str, Any]) -> None:
    with Saga.from_context(context) as saga:
        saga.register()


class TestOutcomes:
    def test_complete(self, business_db):
        request_id = uuid.uuid4().hex
        register(run_context(request_id))
        assert outcomes.complete(run_context(request_id)) == {
            "workflow_id": f"partner_onboarding:{request_id}",
            "status": "completed",
        }
        assert fetch(
            business_db,
            "SELECT status FROM saga_workflows WHERE workflow_id = %s",
            f"partner_onboarding:{request_id}",
        ) == [("completed",)]

    def test_end_badly_records_starts_compensation_notes_and_fails(self, stub, business_db):
        request_id = uuid.uuid4().hex
        context = run_context(request_id)
        register(context)
        with pytest.raises(AirflowFailException, match="rejected"):
            outcomes.end_badly(context, "rejected", "rejected at legal by ann")
        wf = f"partner_onboarding:{request_id}"
        assert fetch(business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf) == [
            ("rejected", "rejected at legal by ann")
        ]
        run = stub.compensation_runs()[f"compensate__{wf}"]
        assert run["conf"]["bad_ending"] == "rejected"
        assert run["conf"]["source"] == context["run_id"]
        assert stub.notes == [
            ("partner_onboarding", context["run_id"], "note", "REJECTED: rejected at legal by ann")
        ]
        assert stub.logins == 1

    def test_end_badly_with_the_api_down_still_records_and_fails(self, api_down, business_db):
        request_id = uuid.uuid4().hex
        register(run_context(request_id))
        with pytest.raises(AirflowFailException):
            outcomes.end_badly(run_context(request_id), "expired", "nobody answered in 7 days")
        assert fetch(
            business_db,
            "SELECT status FROM saga_workflows WHERE workflow_id = %s",
            f"partner_onboarding:{request_id}",
        ) == [("expired",)]

    def test_decision_reason(self):
        decisions = {
            "legal": {"status": "rejected", "stage": "legal", "decided_by": "ann", "comment": "no"},
            "ops": {"status": "expired", "stage": "ops", "decided_by": None},
        }
        from execution_plane.durable.gates import decision_reason

        assert decision_reason(decisions["legal"], "d") == "rejected at legal by ann: no"
        assert decision_reason(decisions["ops"], "d") == "expired at ops by nobody (timed out)"
        assert decision_reason({}, "default reason") == "default reason"
