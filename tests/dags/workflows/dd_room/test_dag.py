"""dd_room through dag.test(): the happy path and every bad ending, checked against the business tables, the
saga ledger and the sandbox's effect log; each bad ending then compensated the way production does it
(saga_compensation with the conf the workflow asked for), twice, the second time changing nothing."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.support.dagtest import Approve, Expire, ScriptDriver
from tests.support.workflow_runs import load_dag, paused, record_rest_calls

pytestmark = pytest.mark.timeout(300)

WORKSTREAMS = ("financial", "legal", "technical", "product", "security")
SIGNOFFS = [Approve(f"{ws}.lead_signoff", "dd_lead") for ws in WORKSTREAMS]
TARGET = "cfo@target.example"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def dag() -> Iterator[Any]:
    dag = load_dag("dd_room")
    # Test speed only: the same retries, seconds apart instead of the production backoff.
    for task in dag.tasks:
        task.retry_delay = timedelta(seconds=1)
        task.max_retry_delay = timedelta(seconds=2)
    with paused("dd_room"):
        yield dag


@pytest.fixture(scope="module")
def compensation_dag() -> Any:
    return load_dag("saga_compensation")


@pytest.fixture
def requested(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    return record_rest_calls(monkeypatch)


# ----------------------------------------------------------------------------- driving


def run(
    dag: Any, script: list[Any], *, approval_hours: float = 168, signoff_hours: float = 336
) -> tuple[Any, str]:
    request_id = f"dd-{uuid.uuid4().hex[:10]}"
    driver = ScriptDriver("dd_room", script, timeout_s=150, request_id=request_id).start()
    try:
        dr = dag.test(
            run_conf={
                "request_id": request_id,
                "deal_id": f"deal-{request_id}",
                "target_company": "Nimbus Analytics",
                "target_contact_email": TARGET,
                "base_valuation_usd": 48_000_000,
                "approval_timeout_hours": approval_hours,
                "signoff_timeout_hours": signoff_hours,
            }
        )
    finally:
        driver.stop()
    assert not driver.errors, driver.errors
    return dr, f"dd_room:{request_id}"


def compensate(compensation_dag: Any, requested: list[dict[str, Any]], wf: str, bad_ending: str) -> Any:
    """Run saga_compensation with the conf production would have started it with."""
    asks = [c for c in requested if c.get("workflow_id") == wf]
    assert asks, f"nobody asked to compensate {wf}: {requested}"
    # The first ask carries the bad ending; the DAG's failure callback asks again (a 409 in production).
    first = asks[0]
    assert first["bad_ending"] == bad_ending and all(c["bad_ending"] in (bad_ending, "failed") for c in asks)
    return compensation_dag.test(
        run_conf={k: first[k] for k in ("workflow_id", "reason", "bad_ending", "source")}
    )


# ----------------------------------------------------------------------------- reading the results
def rows(db: Any, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall()


def effect_counts(sandbox: Any) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in sandbox.effects())


def emails_to(sandbox: Any, to: str) -> list[dict[str, Any]]:
    return [e for e in sandbox.effects(system="email") if e["payload"].get("to") == to]


def ledger(db: Any, wf: str) -> list[tuple[Any, ...]]:
    return rows(
        db,
        "SELECT step, status, compensation_action, compensated_at FROM saga_steps"
        " WHERE workflow_id = %s ORDER BY seq",
        wf,
    )


def assert_compensated_once(
    db: Any,
    sandbox: Any,
    compensation_dag: Any,
    requested: list[dict[str, Any]],
    wf: str,
    bad_ending: str,
    *,
    memo: bool,
    opened: bool = True,
) -> dict[str, Any]:
    """Compensate, check every undo happened once, compensate again and check nothing changed.

    ``opened``: the room was opened and the target told the DD started (so it must hear that it ended);
    ``memo``: the IC memo was stored (so it is archived)."""
    before = effect_counts(sandbox)
    assert compensate(compensation_dag, requested, wf, bad_ending).state == "success"

    assert rows(db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == [("compensated",)]
    steps = ledger(db, wf)
    undone = {step for step, status, action, _ in steps if action}
    assert {step for step, status, action, _ in steps if status == "compensated"} == undone
    expected_undos = (
        {"dd_record", "crm_deal_in_dd"}
        | ({"room_opened", "target_notified"} if opened else set())
        | ({"ic_memo"} if memo else set())
    )
    assert undone == expected_undos

    undos = effect_counts(sandbox) - before
    assert undos == Counter(
        {
            ("crm", "update_deal"): 1,
            **({("docstore", "archive_room"): 1, ("email", "send"): 1} if opened else {}),
            **({("docstore", "archive_object"): 1} if memo else {}),
        }
    )
    room = f"dd-{wf.split(':', 1)[1]}"
    archived = [e["resource_id"] for e in sandbox.effects(system="docstore", action="archive_room")]
    assert archived == ([room] if opened else [])
    told = [e["payload"]["subject"] for e in emails_to(sandbox, TARGET)]
    assert told == (
        ["Due diligence started: Nimbus Analytics", "Due diligence on Nimbus Analytics terminated"]
        if opened
        else []
    )
    deal_updates = [e["payload"]["status"] for e in sandbox.effects(system="crm", action="update_deal")]
    assert deal_updates[-1] == "dd_terminated"

    (record,) = [r[0] for r in rows(db, "SELECT record FROM lessons_learned WHERE workflow_id = %s", wf)]
    assert record["decision"] == bad_ending and record["record_id"].startswith("LL-")
    assert rows(db, "SELECT status FROM dd_rooms WHERE workflow_id = %s", wf) == [("archived",)]
    assert rows(db, "SELECT status FROM deals WHERE workflow_id = %s", wf) == [("dd_terminated",)]

    # A second compensation (a re-run, a reconciler that raced the callback) changes nothing.
    effects, lessons = (
        sandbox.effects(),
        rows(db, "SELECT record, recorded_at FROM lessons_learned WHERE workflow_id = %s", wf),
    )
    assert compensate(compensation_dag, requested, wf, bad_ending).state == "success"
    assert sandbox.effects() == effects
    assert ledger(db, wf) == steps
    assert rows(db, "SELECT record, recorded_at FROM lessons_learned WHERE workflow_id = %s", wf) == lessons
    assert rows(db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == [("compensated",)]
    return dict(record)


def try_numbers(dr: Any) -> dict[str, int]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: ti.try_number for ti in dr.get_task_instances(session=session)}


def task_states(dr: Any) -> dict[str, str | None]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            ti.task_id: str(ti.state) if ti.state else None for ti in dr.get_task_instances(session=session)
        }


# ----------------------------------------------------------------------------- the happy path
def test_happy_path_prepares_close_once(
    dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    # One workstream's documents read fails once: that workstream retries alone; no other one re-runs.
    sandbox.post(
        "/_sandbox/faults",
        {"system": "docstore", "action": "list_room_documents", "mode": "error", "status": 503, "count": 1},
    )
    dr, wf = run(dag, [*SIGNOFFS, Approve("ic_review", "ic_member", comment="proceed, conditions in memo")])

    assert dr.state == "success"
    assert requested == []
    assert rows(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == [
        ("completed",)
    ]
    assert rows(
        business_db,
        "SELECT status, decision, decided_by, recommendation IS NOT NULL FROM dd_rooms"
        " WHERE workflow_id = %s",
        wf,
    ) == [("closing", "proceed", "ic_member", True)]
    assert rows(business_db, "SELECT status FROM deals WHERE workflow_id = %s", wf) == [("closing",)]

    workstreams = rows(
        business_db,
        "SELECT workstream, lead, status, documents, findings FROM dd_workstreams"
        " WHERE workflow_id = %s ORDER BY workstream",
        wf,
    )
    assert [(w[0], w[1], w[2]) for w in workstreams] == [
        (ws, "dd_lead", "signed_off") for ws in sorted(WORKSTREAMS)
    ]
    assert {w[0]: w[3] for w in workstreams} == {
        "financial": 3,
        "legal": 2,
        "technical": 2,
        "product": 2,
        "security": 2,
    }
    per_ws = dict(
        rows(
            business_db,
            "SELECT workstream, count(*) FROM dd_findings WHERE workflow_id = %s GROUP BY workstream",
            wf,
        )
    )
    assert per_ws and {w[0]: w[4] for w in workstreams if w[4]} == per_ws

    register = rows(
        business_db,
        "SELECT severity, likelihood, score, rating FROM risk_register WHERE workflow_id = %s",
        wf,
    )
    assert len(register) == sum(per_ws.values())
    assert all(1 <= s <= 5 and 1 <= lik <= 5 and score == s * lik for s, lik, score, _ in register)
    ((base, adjusted, pct),) = rows(
        business_db,
        "SELECT base_valuation_usd, adjusted_valuation_usd,"
        " total_adjustment_pct FROM valuation_impacts WHERE workflow_id = %s",
        wf,
    )
    assert (
        float(base) == 48_000_000
        and pct < 0
        and float(adjusted) == pytest.approx(48_000_000 * (1 + pct / 100))
    )
    ((memo_sha,),) = rows(
        business_db, "SELECT sha256 FROM documents WHERE workflow_id = %s AND kind = 'ic_memo'", wf
    )

    decisions = rows(
        business_db,
        "SELECT stage, status, decided_by FROM approval_requests WHERE workflow_id = %s ORDER BY stage",
        wf,
    )
    assert decisions == sorted(
        [(f"signoff_{ws}", "approved", "dd_lead") for ws in WORKSTREAMS]
        + [("ic_review", "approved", "ic_member")]
    )

    # Each outside side effect exactly once.
    assert effect_counts(sandbox) == Counter(
        {
            ("crm", "update_deal"): 2,  # due_diligence, closing
            ("docstore", "create_room"): 1,
            ("docstore", "put_object"): 1,  # the IC memo
            ("email", "send"): 8,  # target told DD started, 5 sign-off + 1 IC requests, deal team notice
        }
    )
    assert [e["resource_id"] for e in sandbox.effects(system="docstore", action="put_object")] == [memo_sha]
    assert [e["payload"]["status"] for e in sandbox.effects(system="crm", action="update_deal")] == [
        "due_diligence",
        "closing",
    ]
    assert len(emails_to(sandbox, TARGET)) == 1

    # The retried read was one workstream's only: every other task ran once.
    tries = try_numbers(dr)
    retried = [task_id for task_id, n in tries.items() if n > 1]
    assert len(retried) == 1 and retried[0].endswith(".collect"), tries


# ----------------------------------------------------------------------------- bad endings
def test_ic_rejects_compensates(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    dr, wf = run(dag, [*SIGNOFFS, Approve("ic_review", "ic_member", "Reject", "valuation gap too wide")])

    assert dr.state == "failed"
    assert rows(business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf) == [
        ("rejected", "rejected at ic_review by ic_member: valuation gap too wide")
    ]
    assert rows(business_db, "SELECT decision, decided_by FROM dd_rooms WHERE workflow_id = %s", wf) == [
        ("rejected", "ic_member")
    ]
    assert any(c.get("note", "").startswith("REJECTED: rejected at ic_review") for c in requested)
    assert ("email", "send") in effect_counts(sandbox) and not sandbox.effects(action="archive_room")

    record = assert_compensated_once(
        business_db, sandbox, compensation_dag, requested, wf, "rejected", memo=True
    )
    assert record["reason"] == "rejected at ic_review by ic_member: valuation gap too wide"
    assert record["risk_counts"] and record["top_risks"]


def test_ic_review_expires_compensates(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    dr, wf = run(dag, [*SIGNOFFS, Expire("ic_review")], approval_hours=0.001)

    assert dr.state == "failed"
    assert rows(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == [("expired",)]
    assert rows(
        business_db,
        "SELECT status, decided_by FROM approval_requests WHERE workflow_id = %s AND stage = 'ic_review'",
        wf,
    ) == [("expired", None)]

    assert_compensated_once(business_db, sandbox, compensation_dag, requested, wf, "expired", memo=True)


def test_workstream_lead_refuses_signoff_compensates(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    dr, wf = run(
        dag,
        [
            Approve("financial.lead_signoff", "dd_lead"),
            Approve("legal.lead_signoff", "dd_lead", "Reject", "IP assignments missing"),
        ],
    )

    assert dr.state == "failed"
    assert rows(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == [
        ("rejected",)
    ]
    statuses = dict(
        rows(business_db, "SELECT workstream, status FROM dd_workstreams WHERE workflow_id = %s", wf)
    )
    assert statuses == {
        "financial": "signed_off",
        "legal": "not_signed_off",
        "technical": "analyzed",
        "product": "analyzed",
        "security": "analyzed",
    }
    # fail_fast: the sign-offs nobody gave any more were skipped at once, nothing after them ran.
    states = task_states(dr)
    assert {states[f"{ws}.lead_signoff"] for ws in ("technical", "product", "security")} == {"skipped"}
    assert states["findings_consolidation"] == "skipped" and states["outcome"] == "failed"
    assert rows(business_db, "SELECT count(*) FROM risk_register WHERE workflow_id = %s", wf) == [(0,)]

    record = assert_compensated_once(
        business_db, sandbox, compensation_dag, requested, wf, "rejected", memo=False
    )
    assert record["reason"] == "rejected at signoff_legal by dd_lead: IP assignments missing"


def test_docstore_down_after_retries_fails_and_compensates(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    # The room opens, then the document store stops answering for the rest of the run.
    sandbox.post(
        "/_sandbox/faults",
        {
            "system": "docstore",
            "action": "list_room_documents",
            "mode": "error",
            "status": 503,
            "count": 1000,
        },
    )
    dr, wf = run(dag, [])

    assert dr.state == "failed"
    tries = try_numbers(dr)
    assert max(n for task_id, n in tries.items() if task_id.endswith(".collect")) == 4  # 1 + 3 retries
    # fail_fast skipped the rest; `outcome` recorded the failure and asked for compensation at once.
    ((status, reason),) = rows(
        business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf
    )
    assert status == "failed" and reason.startswith("failed after retries: ") and ".collect" in reason
    assert task_states(dr)["outcome"] == "failed"
    asks = [c for c in requested if c.get("workflow_id") == wf]
    assert [c["source"].split(":")[0] for c in asks] == [dr.run_id.split(":")[0], "on_failure_callback"]

    sandbox_clear_faults(sandbox)  # the provider is back; compensation reaches it
    record = assert_compensated_once(
        business_db, sandbox, compensation_dag, requested, wf, "failed", memo=False
    )
    assert record["decision"] == "failed"
    assert rows(
        business_db, "SELECT action FROM audit_log WHERE workflow_id = %s AND action = 'workflow.failed'", wf
    ) == [("workflow.failed",)]


def test_room_never_opened_target_not_told(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    # Document storage is down from the start: the room never opens, so the target is never contacted.
    sandbox.post(
        "/_sandbox/faults",
        {"system": "docstore", "action": "create_room", "mode": "error", "status": 503, "count": 1000},
    )
    dr, wf = run(dag, [])

    assert dr.state == "failed"
    assert try_numbers(dr)["dd_initiated"] == 4
    ((status, reason),) = rows(
        business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf
    )
    assert (status, reason) == ("failed", "failed after retries: dd_initiated")
    assert effect_counts(sandbox) == Counter({("crm", "update_deal"): 1})

    sandbox_clear_faults(sandbox)
    assert_compensated_once(
        business_db, sandbox, compensation_dag, requested, wf, "failed", memo=False, opened=False
    )


def sandbox_clear_faults(sandbox: Any) -> None:
    import httpx

    httpx.delete(f"{sandbox.url}/_sandbox/faults", timeout=10).raise_for_status()
