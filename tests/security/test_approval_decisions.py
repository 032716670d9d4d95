"""An approval answered twice, by the wrong user, or with an unknown option: refused, nothing changed.

Two layers, both against the real test business database:
- ``Saga.record_decision`` (the approval bridge ``approval_requests`` + the audit log): the first decision
  wins; a second one returns False and changes no column and appends no audit row;
- ``ApprovalGateOperator.execute_complete`` (what runs when Airflow resumes the gate with a person's answer):
  an unknown option is refused before anything is recorded; a second answer routes by the first decision.

The REST-level refusals come from Airflow itself, ``PATCH /api/v2/dags/{dag}/dagRuns/{run}/taskInstances/
{task}/{map_index}/hitlDetails`` (airflow/api_fastapi/core_api/routes/public/hitl.py, ``update_hitl_detail``,
Airflow 3.3.2): 409 when the detail already has a response (``response_received``), 403 when the user is
not among ``assigned_users`` (``is_authorized_hitl_task``), 400 for an option outside ``options`` or several
options on a single-choice gate, 422 for an empty ``chosen_options`` (``UpdateHITLDetailPayload``,
``min_length=1``). The live tests drive those through the running API server.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from execution_plane.operators.approval import APPROVE, REJECT, ApprovalGateOperator
from execution_plane.saga.steps import Saga

DAG_ID = "ep_security_approval_test"


def context(request_id: str, pushed: list[tuple[str, Any]]) -> dict[str, Any]:
    ti = SimpleNamespace(xcom_push=lambda key, value: pushed.append((key, value)), try_number=1)
    return {
        "dag": SimpleNamespace(dag_id=DAG_ID),
        "params": {"request_id": request_id},
        "run_id": "manual__security",
        "ti": ti,
    }


def fetch(db: Any, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return list(cur.fetchall())


def bridge_row(db: Any, request_id: str) -> tuple[Any, ...]:
    [row] = fetch(
        db,
        "SELECT status, decision, decided_by, decided_at, comment, notified_message_id"
        " FROM approval_requests WHERE request_id = %s",
        request_id,
    )
    return row


def audit_rows(db: Any, workflow_id: str) -> list[tuple[Any, ...]]:
    return fetch(
        db, "SELECT id, actor, action, details FROM audit_log WHERE workflow_id = %s ORDER BY id", workflow_id
    )


@pytest.fixture
def business_key() -> str:
    return f"sec-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def saga(business_key: str) -> Any:
    with Saga.from_context(context(business_key, []), actor="approval:finance") as s:
        yield s


@pytest.fixture
def request_id(saga: Saga) -> str:
    return saga.record_approval_request(
        stage="finance", task_id="finance_approval", assignees=["manager"], subject="Approve the budget"
    )


# ------------------------------------------------------------------------------------------- Saga level
@pytest.mark.parametrize(
    ("second_status", "second_user"),
    [("rejected", "manager"), ("approved", "manager"), ("rejected", "legal"), ("expired", None)],
    ids=["same-user-changes-mind", "same-answer-again", "wrong-user", "timeout-after-answer"],
)
def test_second_decision_changes_nothing(
    saga: Saga, request_id: str, business_db: Any, second_status: str, second_user: str | None
) -> None:
    assert saga.record_decision(
        request_id, status="approved", decided_by="manager", comment="fine", notified_message_id="msg-1"
    )
    first = bridge_row(business_db, request_id)
    audit_before = audit_rows(business_db, saga.workflow_id)

    again = saga.record_decision(
        request_id,
        status=second_status,
        decided_by=second_user,
        comment="changed",
        notified_message_id="msg-2",
    )

    assert again is False
    assert bridge_row(business_db, request_id) == first
    assert first[:3] == ("approved", "approved", "manager")
    assert audit_rows(business_db, saga.workflow_id) == audit_before
    assert [action for _, _, action, _ in audit_before] == ["approval.requested", "approval.approved"]


def test_decision_for_an_unknown_request_records_nothing(saga: Saga, business_db: Any) -> None:
    audit_before = audit_rows(business_db, saga.workflow_id)

    assert (
        saga.record_decision(
            f"{saga.workflow_id}:no_such_stage", status="approved", decided_by="manager", comment=None
        )
        is False
    )
    assert audit_rows(business_db, saga.workflow_id) == audit_before


def test_concurrent_answers_record_one_decision(saga: Saga, request_id: str, business_db: Any) -> None:
    """Two answers racing (two API server workers): the conditional UPDATE lets exactly one win."""
    from concurrent.futures import ThreadPoolExecutor

    def answer(user: str) -> bool:
        with Saga.for_workflow(saga.workflow_id, actor="approval:finance") as other:
            return other.record_decision(
                request_id,
                status="approved" if user == "manager" else "rejected",
                decided_by=user,
                comment=user,
            )

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(answer, ["manager", "legal", "executive", "admin"]))

    assert results.count(True) == 1
    status, _, decided_by, _, comment, _ = bridge_row(business_db, request_id)
    assert comment == decided_by
    decisions = [a for a in audit_rows(business_db, saga.workflow_id) if a[2] != "approval.requested"]
    assert [(actor, action) for _, actor, action, _ in decisions] == [(decided_by, f"approval.{status}")]


# --------------------------------------------------------------------------------------- operator level
@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> ApprovalGateOperator:
    op = ApprovalGateOperator(
        task_id="finance_approval",
        stage="finance",
        assignees=["manager"],
        approved_task_ids="next",
        rejected_task_id="finance_not_approved",
        response_timeout=timedelta(hours=1),
        subject="Approve the budget",
    )
    # Branching needs a real DAG run; the route the gate takes is what matters here.
    monkeypatch.setattr(op, "_route", lambda ctx, status: status)
    return op


def event(option: str | list[str], user: str | None) -> dict[str, Any]:
    return {
        "chosen_options": option if isinstance(option, list) else [option],
        "params_input": {"comment": f"by {user}"},
        "responded_at": datetime.now(UTC),
        "responded_by_user": {"id": user, "name": user} if user else None,
        "timedout": user is None,
    }


@pytest.mark.parametrize("options", [["Maybe"], ["approve"], ["Approve", "Escalate"]])
def test_unknown_option_is_refused_before_anything_is_recorded(
    gate: ApprovalGateOperator,
    business_key: str,
    request_id: str,
    business_db: Any,
    saga: Saga,
    options: list[str],
) -> None:
    pushed: list[tuple[str, Any]] = []
    before = bridge_row(business_db, request_id)
    audit_before = audit_rows(business_db, saga.workflow_id)

    with pytest.raises(ValueError, match="not in"):
        gate.execute_complete(context(business_key, pushed), event(options, "manager"))

    assert bridge_row(business_db, request_id) == before
    assert before[0] == "pending"
    assert audit_rows(business_db, saga.workflow_id) == audit_before
    assert pushed == []


def test_second_answer_routes_by_the_first_decision(
    gate: ApprovalGateOperator, business_key: str, request_id: str, business_db: Any, saga: Saga
) -> None:
    first_push: list[tuple[str, Any]] = []
    assert gate.execute_complete(context(business_key, first_push), event(APPROVE, "manager")) == "approved"
    first = bridge_row(business_db, request_id)
    audit_before = audit_rows(business_db, saga.workflow_id)

    second_push: list[tuple[str, Any]] = []
    route = gate.execute_complete(context(business_key, second_push), event(REJECT, "legal"))

    assert route == "approved"
    assert bridge_row(business_db, request_id) == first
    assert first[:3] == ("approved", "approved", "manager")
    assert audit_rows(business_db, saga.workflow_id) == audit_before
    # What downstream tasks read (``xcom_pull(key="decision")``) must be the decision that stands.
    [(key, decision)] = second_push
    assert key == "decision"
    assert (decision["status"], decision["decided_by"], decision["comment"]) == (
        "approved",
        "manager",
        "by manager",
    )


def test_decision_is_attributed_to_the_responding_user(
    gate: ApprovalGateOperator, business_key: str, request_id: str, business_db: Any, saga: Saga
) -> None:
    """The bridge and the audit log name who answered (Airflow's 403 keeps unassigned users out)."""
    pushed: list[tuple[str, Any]] = []

    assert gate.execute_complete(context(business_key, pushed), event(REJECT, "manager")) == "rejected"

    assert bridge_row(business_db, request_id)[:3] == ("rejected", "rejected", "manager")
    [*_, (_, actor, action, details)] = audit_rows(business_db, saga.workflow_id)
    assert (actor, action, details["comment"]) == ("manager", "approval.rejected", "by manager")
    assert pushed == [
        (
            "decision",
            {"status": "rejected", "decided_by": "manager", "comment": "by manager", "stage": "finance"},
        )
    ]
