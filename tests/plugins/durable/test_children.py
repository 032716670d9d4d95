"""Composition (execution_plane.durable.children): a child is started once under ids derived from its parent,
its outcome reaches the inbox where the parent waits, and the parent's compensation goes through the child.

Against the test business database; Airflow's REST API is recorded at the client (``AirflowApi``) instead of
served: tests/e2e and the workflows that use children drive the real one."""

from __future__ import annotations

import re
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from execution_plane.durable import CHILD_OUTCOMES, Run, child_outcome, start_child
from execution_plane.saga import compensations, keys, ledger
from execution_plane.saga.steps import Saga


class RecordedApi:
    """What the toolkit asks Airflow's REST API; run ids are unique, as Airflow's are."""

    runs: dict[tuple[str, str], dict[str, Any]]
    ended: list[tuple[str, str]]
    compensations: list[dict[str, Any]]

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any], note: str | None = None) -> bool:
        if (dag_id, run_id) in self.runs:
            return False
        self.runs[(dag_id, run_id)] = {"conf": conf, "note": note}
        return True

    def end_run(self, dag_id: str, run_id: str) -> bool:
        self.ended.append((dag_id, run_id))
        return True


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> type[RecordedApi]:
    RecordedApi.runs, RecordedApi.ended, RecordedApi.compensations = {}, [], []

    def start(workflow_id: str, **kwargs: Any) -> bool:
        RecordedApi.compensations.append({"workflow_id": workflow_id, **kwargs})
        return True

    monkeypatch.setattr("execution_plane.saga.airflow_api.AirflowApi", RecordedApi)
    monkeypatch.setattr("execution_plane.saga.airflow_api.start_compensation", start)
    return RecordedApi


def parent_run(request_id: str) -> Run:
    return Run(
        {"dag": SimpleNamespace(dag_id="ma_offer"), "params": {"request_id": request_id}, "run_id": "r1"}
    )


def register(workflow_id: str) -> None:
    dag_id, request_id = keys.split_workflow_id(workflow_id)
    with Saga(workflow_id=workflow_id, dag_id=dag_id, run_id="c1", business_key=request_id) as saga:
        saga.register()


def outcome_rows(business_db: Any, workflow_id: str) -> list[tuple[str, str]]:
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT event_type, payload->>'status' FROM external_events WHERE correlation_key = %s"
            " ORDER BY received_at",
            (keys.outcome_key(workflow_id),),
        )
        return list(cur.fetchall())


def test_child_ids_derive_from_the_parent_and_stay_valid() -> None:
    assert keys.child_request_id("offer-1", "signing") == "offer-1.signing"
    assert keys.child_request_id("offer-1", "partner:2") == "offer-1.partner-2"
    long_id = "x" * 64
    derived = keys.child_request_id(long_id, "signing")
    assert derived == keys.child_request_id(long_id, "signing")
    assert derived != keys.child_request_id(long_id, "other")
    for value in (derived, keys.child_request_id("a.", ".b")):
        assert re.fullmatch(keys.ID_PATTERN, value), value
    assert keys.child_run_id("ma_offer:offer-1", "signing") == "child__ma_offer:offer-1__signing"


def test_a_child_is_started_once_whatever_the_retries(api: type[RecordedApi], business_db: Any) -> None:
    request_id = f"offer-{uuid.uuid4().hex[:8]}"
    run = parent_run(request_id)
    run.saga.register()
    first = start_child(run, "signing", "signature_commitment", {"deal_id": "D-1"}, wait_hours=24)
    again = start_child(
        parent_run(request_id), "signing", "signature_commitment", {"deal_id": "D-1"}, wait_hours=24
    )
    run.close()

    child = f"signature_commitment:{request_id}.signing"
    assert first == again  # the second call replays the ledger: no second start, the same deadline
    assert first["workflow_id"] == child and first["correlation_key"] == f"{child}:outcome"
    assert list(api.runs) == [("signature_commitment", f"child__ma_offer:{request_id}__signing")]
    conf = api.runs[("signature_commitment", f"child__ma_offer:{request_id}__signing")]["conf"]
    assert conf == {
        "deal_id": "D-1",
        "request_id": f"{request_id}.signing",
        "parent_workflow_id": run.workflow_id,
    }
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT side_effect, compensation_action FROM saga_steps WHERE workflow_id = %s",
            (run.workflow_id,),
        )
        assert cur.fetchall() == [("workflow.start_child", "workflow.compensate_child")]


def test_every_outcome_is_announced_once_where_a_parent_waits(business_db: Any) -> None:
    child = f"signature_commitment:{uuid.uuid4().hex[:10]}"
    register(child)
    with Saga.for_workflow(child, actor="test") as saga, saga.conn() as conn, conn.cursor() as cur:
        assert ledger.set_status(cur, child, "rejected", "declined", only_from=("running",))
        assert not ledger.set_status(cur, child, "rejected", "declined", only_from=("running",))
        assert ledger.set_status(cur, child, "compensating", None)
        assert ledger.set_status(cur, child, "compensated", None)
    assert outcome_rows(business_db, child) == [
        ("workflow.rejected", "rejected"),
        ("workflow.compensated", "compensated"),
    ]
    assert "workflow.rejected" in CHILD_OUTCOMES and "workflow.compensated" not in CHILD_OUTCOMES
    event = {"status": "received", "event": {"event_type": "workflow.rejected"}}
    assert child_outcome(event) == "rejected"
    assert child_outcome({"status": "expired", "timeout_at": "x"}) == "timed_out"


@pytest.mark.parametrize(
    ("child_status", "compensated", "stopped"),
    [
        ("running", True, True),
        ("rejected", True, False),
        ("completed", False, False),
        ("compensated", False, False),
    ],
)
def test_the_parents_undo_goes_through_the_child(
    api: type[RecordedApi], child_status: str, compensated: bool, stopped: bool
) -> None:
    child = f"signature_commitment:{uuid.uuid4().hex[:10]}.signing"
    register(child)
    if child_status != "running":
        with Saga.for_workflow(child, actor="test") as saga, saga.conn() as conn, conn.cursor() as cur:
            ledger.set_status(cur, child, child_status, "test")
    undo = compensations.get("workflow.compensate_child")
    args = {"workflow_id": child, "dag_id": "signature_commitment", "run_id": "child__p__signing"}
    with Saga.for_workflow("ma_offer:parent", actor="saga:compensation") as parent:
        result = undo(parent, args, "board rejected", "key-1")

    assert [c["workflow_id"] for c in api.compensations] == ([child] if compensated else [])
    if compensated:
        assert api.compensations[0]["bad_ending"] == ("failed" if child_status == "running" else child_status)
        assert api.compensations[0]["source"] == "parent:ma_offer:parent"
    assert api.ended == ([("signature_commitment", "child__p__signing")] if stopped else [])
    if child_status == "completed":
        assert result["kept"] == "the child completed"
