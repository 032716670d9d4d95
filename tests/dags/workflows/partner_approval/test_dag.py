"""partner_approval through dag.test(): the happy path and every bad ending, checked against the business
tables, the saga ledger and the sandbox's effect log.

Each bad ending is then compensated as production does it: ``saga_compensation`` started with the conf the
workflow asked the REST API for (recorded here: dag.test() has no API server), run twice; the second run
must change nothing.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from tests.support.dagtest import Approve, Do, Expire, ScriptDriver, partner_event
from tests.support.workflow_runs import load_dag, paused, record_rest_calls

pytestmark = pytest.mark.timeout(90)

DAG_ID = "partner_approval"
NOTICE_SUBJECT = "Update on our partnership proposal"  # the rejection notice (message.notify undo)


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def dag() -> Iterator[Any]:
    dag = load_dag(DAG_ID)
    # dag.test() (Airflow 3.3.2) builds a DAG failure callback's context from the *serialized* DAG, whose
    # required params (request_id has no default) fail process_params: ParamValidationError ends dag.test()
    # itself. Production runs the callback in the dag-processor from the parsed file. Here the compensation
    # of a failed run is started as the reconciler starts it for a lost callback.
    dag.on_failure_callback = None
    dag.has_on_failure_callback = False
    with paused(DAG_ID):
        yield dag


@pytest.fixture(scope="module")
def compensation_dag() -> Any:
    return load_dag("saga_compensation")


@pytest.fixture
def requested(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    return record_rest_calls(monkeypatch)


# ----------------------------------------------------------------------------- driving
@dataclass
class Outcome:
    dr: Any
    request_id: str
    workflow_id: str
    partner_id: str

    @property
    def email(self) -> str:
        return f"{self.partner_id}@partners.example"


Step = Any | Callable[[str], Any]


def run(
    dag: Any, script: list[Step], *, rounds: int = 3, approval_hours: float = 72, response_hours: float = 168
) -> Outcome:
    request_id = f"pa-{uuid.uuid4().hex[:10]}"
    # A partner of its own: term sheets are content-addressed, and a sheet shared with another live workflow
    # is (rightly) kept at compensation; a fresh partner id makes every sheet this run's alone.
    partner_id = f"P-{request_id}"
    steps = [s(request_id) if callable(s) else s for s in script]
    driver = ScriptDriver(DAG_ID, steps, request_id=request_id).start()
    try:
        dr = dag.test(
            run_conf={
                "request_id": request_id,
                "partner_id": partner_id,
                "max_negotiation_rounds": rounds,
                "approval_timeout_hours": approval_hours,
                "partner_response_timeout_hours": response_hours,
            }
        )
    finally:
        driver.stop()
    assert not driver.errors, driver.errors
    return Outcome(dr, request_id, f"{DAG_ID}:{request_id}", partner_id)


def accept(round_no: int) -> Callable[[str], Any]:
    return lambda rid: partner_event(rid, round_no, "partner.accepted", {"note": "agreed"})


def counter(round_no: int, **terms: Any) -> Callable[[str], Any]:
    return lambda rid: partner_event(rid, round_no, "partner.countered", terms)


def decline(round_no: int, note: str) -> Callable[[str], Any]:
    return lambda rid: partner_event(rid, round_no, "partner.declined", {"note": note})


MANAGER_OK = Approve("manager_approval", "manager", comment="good fit")
LEGAL_OK = Approve("round_1.legal_review", "legal", comment="clean")
EXECUTIVE_OK = Approve("executive_approval", "executive", comment="go")


# ----------------------------------------------------------------------------- reading
def rows(db: Any, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall()


def one(db: Any, query: str, *args: Any) -> Any:
    (row,) = rows(db, query, *args)
    return row[0] if len(row) == 1 else row


def effects_after(sandbox: Any, seq: int = 0) -> list[dict[str, Any]]:
    return [e for e in sandbox.effects() if int(e["seq"]) > seq]


def last_seq(sandbox: Any) -> int:
    return max((int(e["seq"]) for e in sandbox.effects()), default=0)


def counts(effects: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in effects)


def assert_each_effect_once(sandbox: Any) -> None:
    """No idempotency key reached a provider's side effect twice."""
    keyed = Counter(
        (e["system"], e["action"], e["idempotency_key"])
        for e in sandbox.effects()
        if e.get("idempotency_key")
    )
    assert not [k for k, n in keyed.items() if n > 1], keyed


def notices(sandbox: Any, out: Outcome) -> list[dict[str, Any]]:
    return [
        e
        for e in sandbox.effects(system="email")
        if e["payload"].get("to") == out.email and e["payload"].get("subject") == NOTICE_SUBJECT
    ]


def to_the_partner(sandbox: Any, out: Outcome) -> list[dict[str, Any]]:
    """Emails to the partner's address and WhatsApp messages (only the partner gets those)."""
    return [
        e
        for e in sandbox.effects()
        if e["system"] == "whatsapp" or (e["system"] == "email" and e["payload"].get("to") == out.email)
    ]


def task_states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


# ----------------------------------------------------------------------------- compensation
def compensate(
    compensation_dag: Any, requested: list[dict[str, Any]], sandbox: Any, out: Outcome
) -> list[dict[str, Any]]:
    """Start saga_compensation with the first start the workflow asked for (any later one is a 409), then
    once more: returns the effects of the first run; the second must add none."""
    asks = [c for c in requested if c.get("workflow_id") == out.workflow_id]
    assert asks, f"nobody asked to compensate {out.workflow_id}: {requested}"
    first = asks[0]
    conf = {
        "workflow_id": out.workflow_id,
        "reason": first["reason"],
        "bad_ending": first["bad_ending"],
        "source": first["source"],
    }
    before = last_seq(sandbox)
    assert compensation_dag.test(run_conf=conf).state == "success"
    undone = effects_after(sandbox, before)
    again = last_seq(sandbox)
    assert compensation_dag.test(run_conf=conf).state == "success"
    assert effects_after(sandbox, again) == [], "a second compensation run acted again"
    return undone


def assert_compensated(
    business_db: Any,
    sandbox: Any,
    compensation_dag: Any,
    requested: list[dict[str, Any]],
    out: Outcome,
    *,
    sheets: int,
    contacted: bool,
) -> list[dict[str, Any]]:
    wf = out.workflow_id
    stored = [
        r[0]
        for r in rows(
            business_db, "SELECT sha256 FROM term_sheets WHERE workflow_id = %s ORDER BY revision", wf
        )
    ]
    assert len(stored) == sheets
    undo_steps = rows(
        business_db,
        "SELECT step, compensation_action FROM saga_steps WHERE workflow_id = %s"
        " AND compensation_action IS NOT NULL",
        wf,
    )
    pa_status = one(business_db, "SELECT status FROM partner_approvals WHERE workflow_id = %s", wf)

    undone = compensate(compensation_dag, requested, sandbox, out)

    # Every undo exactly once: CRM status, one retraction per stored sheet, one notice iff contacted.
    expected: Counter[tuple[str, str]] = Counter({("crm", "update_partner"): 1})
    if sheets:
        expected[("docstore", "retract_object")] = sheets
    if contacted:
        expected[("email", "send")] = 1
    assert counts(undone) == expected, undone
    (crm,) = [e for e in undone if e["system"] == "crm"]
    assert crm["resource_id"] == out.partner_id and crm["payload"]["status"] == "rejected", crm
    assert sorted(e["resource_id"] for e in undone if e["system"] == "docstore") == sorted(stored)
    assert len(notices(sandbox, out)) == (1 if contacted else 0)
    assert_each_effect_once(sandbox)

    # The ledger and the business tables.
    assert one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "compensated"
    assert (
        rows(
            business_db,
            "SELECT step FROM saga_steps WHERE workflow_id = %s AND compensation_action IS NOT"
            " NULL AND status <> 'compensated'",
            wf,
        )
        == []
    )
    assert one(
        business_db,
        "SELECT count(*) FROM audit_log WHERE workflow_id = %s AND action = 'step.compensated'",
        wf,
    ) == len(undo_steps)
    assert Counter(a for _, a in undo_steps)["message.notify"] == (1 if contacted else 0)
    assert rows(business_db, "SELECT DISTINCT status FROM term_sheets WHERE workflow_id = %s", wf) == (
        [("retracted",)] if sheets else []
    )
    # Compensation keeps the bad ending the workflow recorded (a failure is closed as rejected).
    expected_pa = pa_status if pa_status in ("rejected", "expired", "declined") else "rejected"
    assert one(business_db, "SELECT status FROM partner_approvals WHERE workflow_id = %s", wf) == expected_pa
    return undone


def assert_bad_ending(
    business_db: Any,
    requested: list[dict[str, Any]],
    out: Outcome,
    *,
    status: str,
    reason: str,
    pa_status: str,
    pa_stage: str,
) -> None:
    wf = out.workflow_id
    assert out.dr.state == "failed"
    assert rows(business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf) == [
        (status, reason)
    ]
    assert rows(business_db, "SELECT status, stage FROM partner_approvals WHERE workflow_id = %s", wf) == [
        (pa_status, pa_stage)
    ]
    asks = [c for c in requested if c.get("workflow_id") == wf]
    assert asks[0]["bad_ending"] == status and asks[0]["reason"] == reason, asks
    notes = [c["note"] for c in requested if "note" in c]
    assert notes == [f"{status.upper()}: {reason}"], notes


# ----------------------------------------------------------------------------- contract
def test_crm_webhook_params_are_the_dag_params() -> None:
    """The CRM ingress validates a start with PartnerApprovalParams: field for field the DAG's params."""
    from execution_plane.webhooks.workflows import PartnerApprovalParams

    dag = load_dag(DAG_ID)  # freshly parsed: dag.test() leaves the last run's values in the params it ran

    fields = PartnerApprovalParams.model_fields
    assert set(fields) == set(dag.params.keys())
    defaults = {name: dag.params.get_param(name).value for name in dag.params}
    assert {name: (None if f.is_required() else f.default) for name, f in fields.items()} == {
        name: (None if type(value).__name__ == "ArgNotSet" else value) for name, value in defaults.items()
    }


# ----------------------------------------------------------------------------- happy paths
def test_happy_path_activates_partner_once(
    dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    out = run(dag, [MANAGER_OK, LEGAL_OK, accept(1), EXECUTIVE_OK])
    wf = out.workflow_id
    assert out.dr.state == "success"
    assert one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "completed"
    assert rows(business_db, "SELECT status, stage FROM partner_approvals WHERE workflow_id = %s", wf) == [
        ("activated", "activated")
    ]
    assert rows(business_db, "SELECT revision, status FROM term_sheets WHERE workflow_id = %s", wf) == [
        (1, "accepted")
    ]
    decisions = rows(
        business_db,
        "SELECT stage, status, decided_by FROM approval_requests WHERE workflow_id = %s ORDER BY created_at",
        wf,
    )
    assert decisions == [
        ("manager_approval", "approved", "manager"),
        ("legal_review_r1", "approved", "legal"),
        ("executive_approval", "approved", "executive"),
    ]
    # 3 approval requests + terms + welcome by email, terms notice by WhatsApp, CRM in review/sent/active.
    assert counts(sandbox.effects()) == {
        ("email", "send"): 5,
        ("whatsapp", "send"): 1,
        ("crm", "update_partner"): 3,
        ("docstore", "put_object"): 1,
    }
    assert [e["payload"]["status"] for e in sandbox.effects(system="crm")] == [
        "in_review",
        "terms_sent",
        "active",
    ]
    assert_each_effect_once(sandbox)
    assert requested == []


def test_counter_then_accept_drafts_revision_2_and_succeeds(
    dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    out = run(
        dag,
        [
            MANAGER_OK,
            LEGAL_OK,
            counter(1, revenue_share_pct=1, note="we need a lower share"),
            Approve("round_2.legal_review", "legal", comment="revision 2 fine"),
            accept(2),
            EXECUTIVE_OK,
        ],
    )
    wf = out.workflow_id
    assert out.dr.state == "success", task_states(out.dr)
    assert one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "completed"
    sheets = rows(
        business_db,
        "SELECT revision, status, terms->'terms', sha256 FROM term_sheets"
        " WHERE workflow_id = %s ORDER BY revision",
        wf,
    )
    assert [(r, s) for r, s, _, _ in sheets] == [(1, "sent"), (2, "accepted")]
    (_, _, r1, sha1), (_, _, r2, sha2) = sheets
    # The counter moved the terms: the share is clamped to the band's floor, below the band default.
    assert r2["revision"] == 2 and r2["revenue_share_pct"] < r1["revenue_share_pct"], (r1, r2)
    assert {k: v for k, v in r1.items() if k not in ("revision", "revenue_share_pct")} == {
        k: v for k, v in r2.items() if k not in ("revision", "revenue_share_pct")
    }
    assert sha1 != sha2
    assert rows(
        business_db,
        "SELECT round, response, next_step FROM negotiation_rounds WHERE workflow_id = %s ORDER BY round",
        wf,
    ) == [(1, "counter", "legal_review"), (2, "accept", "executive_approval")]
    # Both sheets stored once; a rejection notice is recorded for the first contact only.
    assert sorted(
        e["resource_id"] for e in sandbox.effects(system="docstore", action="put_object")
    ) == sorted([sha1, sha2])
    assert (
        one(
            business_db,
            "SELECT count(*) FROM saga_steps WHERE workflow_id = %s"
            " AND compensation_action = 'message.notify'",
            wf,
        )
        == 1
    )
    assert counts(sandbox.effects()) == {
        ("email", "send"): 7,
        ("whatsapp", "send"): 2,
        ("crm", "update_partner"): 4,
        ("docstore", "put_object"): 2,
    }
    assert_each_effect_once(sandbox)
    assert requested == []


# ----------------------------------------------------------------------------- bad endings
def test_manager_rejects(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    out = run(dag, [Approve("manager_approval", "manager", "Reject", "not a fit for us")])
    assert_bad_ending(
        business_db,
        requested,
        out,
        status="rejected",
        reason="rejected at manager_approval by manager: not a fit for us",
        pa_status="rejected",
        pa_stage="manager_approval",
    )
    assert not sandbox.effects(system="docstore") and not to_the_partner(sandbox, out)
    assert_compensated(business_db, sandbox, compensation_dag, requested, out, sheets=0, contacted=False)


def test_manager_approval_expires(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    out = run(dag, [Expire("manager_approval")], approval_hours=0.0005)
    assert_bad_ending(
        business_db,
        requested,
        out,
        status="expired",
        reason="expired at manager_approval by nobody (timed out)",
        pa_status="expired",
        pa_stage="manager_approval",
    )
    assert rows(
        business_db,
        "SELECT status, decided_by FROM approval_requests WHERE workflow_id = %s",
        out.workflow_id,
    ) == [("expired", None)]
    assert_compensated(business_db, sandbox, compensation_dag, requested, out, sheets=0, contacted=False)


def test_legal_rejects_round_1(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    out = run(dag, [MANAGER_OK, Approve("round_1.legal_review", "legal", "Reject", "liability cap missing")])
    assert_bad_ending(
        business_db,
        requested,
        out,
        status="rejected",
        reason="rejected at legal_review_r1 by legal: liability cap missing",
        pa_status="rejected",
        pa_stage="legal_review",
    )
    assert counts(sandbox.effects(system="docstore")) == {("docstore", "put_object"): 1}
    assert not to_the_partner(sandbox, out)
    assert_compensated(business_db, sandbox, compensation_dag, requested, out, sheets=1, contacted=False)


def test_partner_declines_round_1(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    out = run(dag, [MANAGER_OK, LEGAL_OK, decline(1, "we signed with a competitor")])
    assert_bad_ending(
        business_db,
        requested,
        out,
        status="rejected",
        reason="partner declined in round 1: we signed with a competitor",
        pa_status="declined",
        pa_stage="negotiation_r1",
    )
    assert_compensated(business_db, sandbox, compensation_dag, requested, out, sheets=1, contacted=True)


def test_malformed_partner_answer_is_a_decline_with_its_reason(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    out = run(dag, [MANAGER_OK, LEGAL_OK, counter(1, note="better terms please")])  # contests no term
    wf = out.workflow_id
    reason = one(business_db, "SELECT reason FROM saga_workflows WHERE workflow_id = %s", wf)
    assert reason.startswith("partner declined in round 1: unreadable answer:"), reason
    assert "must contest at least one term" in reason
    assert_bad_ending(
        business_db,
        requested,
        out,
        status="rejected",
        reason=reason,
        pa_status="declined",
        pa_stage="negotiation_r1",
    )
    ((response, payload, next_step),) = rows(
        business_db, "SELECT response, payload, next_step FROM negotiation_rounds WHERE workflow_id = %s", wf
    )
    assert (response, next_step) == ("decline", "declined")
    assert payload == {"note": "better terms please"}  # what the partner sent is kept as sent
    assert_compensated(business_db, sandbox, compensation_dag, requested, out, sheets=1, contacted=True)


def test_counters_in_every_round_exhaust_the_rounds(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    out = run(
        dag,
        [
            MANAGER_OK,
            LEGAL_OK,
            counter(1, term_months=6),
            Approve("round_2.legal_review", "legal"),
            counter(2, term_months=7),
        ],
        rounds=2,
    )
    wf = out.workflow_id
    assert_bad_ending(
        business_db,
        requested,
        out,
        status="rejected",
        reason="no agreement after 2 negotiation rounds",
        pa_status="declined",
        pa_stage="negotiation_r2",
    )
    assert rows(
        business_db,
        "SELECT round, response, next_step FROM negotiation_rounds WHERE workflow_id = %s ORDER BY round",
        wf,
    ) == [(1, "counter", "legal_review"), (2, "counter", "rounds_exhausted")]
    states = task_states(out.dr)
    assert states["round_2.negotiation_ended"] == "failed"
    assert all(
        s in ("skipped", "upstream_failed", "None")
        for t, s in states.items()
        if t.startswith("round_3.") or t in ("executive_approval", "activate", "complete")
    ), states
    # Two terms emails, but one rejection notice to come.
    assert (
        one(
            business_db,
            "SELECT count(*) FROM saga_steps WHERE workflow_id = %s"
            " AND compensation_action = 'message.notify'",
            wf,
        )
        == 1
    )
    assert_compensated(business_db, sandbox, compensation_dag, requested, out, sheets=2, contacted=True)


def test_partner_never_answers(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    out = run(dag, [MANAGER_OK, LEGAL_OK], response_hours=0.0005)
    assert_bad_ending(
        business_db,
        requested,
        out,
        status="expired",
        reason="partner did not answer round 1 in time",
        pa_status="expired",
        pa_stage="negotiation_r1",
    )
    assert rows(
        business_db,
        "SELECT response, next_step FROM negotiation_rounds WHERE workflow_id = %s",
        out.workflow_id,
    ) == [("timeout", "expired")]
    assert_compensated(business_db, sandbox, compensation_dag, requested, out, sheets=1, contacted=True)


def test_executive_rejects(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    out = run(
        dag,
        [
            MANAGER_OK,
            LEGAL_OK,
            accept(1),
            Approve("executive_approval", "executive", "Reject", "budget frozen"),
        ],
    )
    assert_bad_ending(
        business_db,
        requested,
        out,
        status="rejected",
        reason="rejected at executive_approval by executive: budget frozen",
        pa_status="rejected",
        pa_stage="executive_approval",
    )
    assert [e["payload"]["status"] for e in sandbox.effects(system="crm")] == ["in_review", "terms_sent"]
    assert_compensated(business_db, sandbox, compensation_dag, requested, out, sheets=1, contacted=True)


@contextmanager
def quick_retries(dag: Any) -> Iterator[None]:
    """Test speed only: the same 3 retries, a second apart instead of the production backoff."""
    saved = {t.task_id: (t.retry_delay, t.max_retry_delay) for t in dag.tasks}
    for task in dag.tasks:
        task.retry_delay, task.max_retry_delay = timedelta(seconds=0.5), timedelta(seconds=1)
    try:
        yield
    finally:
        for task in dag.tasks:
            task.retry_delay, task.max_retry_delay = saved[task.task_id]


def reconcile_lost_callback(monkeypatch: pytest.MonkeyPatch, out: Outcome) -> None:
    """One pass of the reconciler (saga.reconciler.reconcile), with the REST API answering what a live
    Airflow would: this run failed (other DAGs: no failed runs). Its compensation starts are recorded."""
    from execution_plane.saga.reconciler import reconcile

    class Api:
        def dag_runs(self, dag_id: str, *, state: str, limit: int, offset: int) -> list[dict[str, Any]]:
            if dag_id != DAG_ID or state != "failed" or offset:
                return []
            return [{"dag_run_id": out.dr.run_id, "end_date": out.dr.end_date.isoformat()}]

    monkeypatch.setenv("EP_RECONCILER_GRACE_S", "0")
    reconcile(api=Api())  # type: ignore[arg-type]


def test_crm_down_after_retries_fails_the_run_and_compensation_undoes_it(
    dag: Any,
    compensation_dag: Any,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    def crm_down() -> None:  # from the moment legal approves: every CRM update answers 503
        sandbox.post(
            "/_sandbox/faults",
            {"system": "crm", "action": "update_partner", "mode": "error", "status": 503, "count": 1000},
        )

    with quick_retries(dag):
        out = run(dag, [MANAGER_OK, LEGAL_OK, Do("round_1.send_terms", crm_down)])
    wf = out.workflow_id
    assert out.dr.state == "failed"
    tis = {ti.task_id: ti for ti in out.dr.get_task_instances()}
    assert (str(tis["round_1.send_terms"].state), tis["round_1.send_terms"].try_number) == ("failed", 4)
    # Four tries, one email and one WhatsApp message to the partner: the ledger replayed them.
    to_partner = to_the_partner(sandbox, out)
    assert counts(to_partner) == {("email", "send"): 1, ("whatsapp", "send"): 1}, to_partner
    # Nothing in the run records the failure, and nobody asked to compensate it yet: the reconciler does.
    assert one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "running"
    assert requested == []
    reconcile_lost_callback(monkeypatch, out)
    (ask,) = [c for c in requested if c.get("workflow_id") == wf]
    assert ask == {
        "workflow_id": wf,
        "bad_ending": "failed",
        "source": "reconciler",
        "reason": f"run {out.dr.run_id} failed; its failure callback did not start compensation",
    }

    httpx.delete(f"{sandbox.url}/_sandbox/faults", timeout=10).raise_for_status()  # the CRM is back
    assert_compensated(business_db, sandbox, compensation_dag, requested, out, sheets=1, contacted=True)
    assert rows(business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf) == [
        ("compensated", ask["reason"])
    ]
    assert (
        one(
            business_db,
            "SELECT count(*) FROM audit_log WHERE workflow_id = %s AND action = 'workflow.failed'",
            wf,
        )
        == 1
    )
