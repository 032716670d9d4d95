"""pmi_program through dag.test(): the happy path and every bad ending, checked against the business tables,
the saga ledger and the sandbox's effect log; each bad ending compensated the way production does it
(saga_compensation with the conf the workflow asked for), twice, the second time changing nothing.

A program day lasts ``DAY_S`` seconds here: Day 90 comes about two seconds after Day 1. The integration lead
answers through a driver thread exactly as Airflow's hitlDetails route does (a review's ``extend_days`` in
``params_input``); the banks and the registry act through the sandbox's control routes.
"""

from __future__ import annotations

import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.support.dagtest import ANSWER_AFTER_S, POLL_S, Approve, Do, Expire, ScriptDriver, expire
from tests.support.workflow_runs import load_dag, paused, record_rest_calls

pytestmark = pytest.mark.timeout(600)

DAG_ID = "pmi_program"
LEAD = "integration_lead"
LEAD_EMAIL = "integration_lead@execution-plane.example"
DAY_S = 0.02
FUNCTIONS = ("hr", "finance", "it", "legal", "crm")
UNDO_STEPS = {  # each function's undoable steps, in the order Day 1 does them
    "hr": ["hr.transfer"],
    "finance": ["finance.ledgers", "finance.mandate.*"],
    "it": ["it.accounts", "it.access"],
    "legal": ["legal.parent_change", "legal.assignment"],
    "crm": ["crm.merge"],
}


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def dag() -> Iterator[Any]:
    """The DAG without its failure callback: in dag.test() Airflow 3.3.2 builds the callback's context with
    required params (request_id has no default) and fails process_params: ParamValidationError ends
    dag.test() (as in partner_approval's tests). The callback only asks the REST API to start
    saga_compensation; every bad ending here asks for it itself (``Run.end_badly``)."""
    dag = load_dag(DAG_ID)
    dag.on_failure_callback = None
    dag.has_on_failure_callback = False
    # Test speed only: the same retries, seconds apart instead of the production backoff.
    for task in dag.tasks:
        task.retry_delay = timedelta(seconds=1)
        task.max_retry_delay = timedelta(seconds=1)
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
class Answer:
    """The integration lead answers ``task_id`` with ``option`` and form fields ``params``."""

    task_id: str
    option: str
    params: dict[str, Any] = field(default_factory=dict)
    user: str = LEAD


def answer(dag_id: str, run_id: str, task_id: str, option: str, user: str, params: dict[str, Any]) -> None:
    """What PATCH .../taskInstances/{task}/-1/hitlDetails does, with the form's fields."""
    from airflow.models import TaskInstance
    from airflow.models.hitl import HITLDetail
    from airflow.models.trigger import handle_event_submit
    from airflow.sdk import timezone
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance)
            .where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id
            )
            .with_for_update()
        ).one()
        detail = session.scalars(
            select(HITLDetail).where(HITLDetail.ti_id == ti.id).with_for_update(of=HITLDetail)
        ).one()
        assert not detail.response_received, f"{task_id} already answered"
        assert option in detail.options, f"{option} is not offered by {task_id}: {detail.options}"
        assert user in {u["id"] for u in detail.assigned_users or []}
        detail.responded_by = {"id": user, "name": user}
        detail.responded_at = timezone.utcnow()
        detail.chosen_options = [option]
        detail.params_input = {"comment": "", **params}
        session.add(detail)
        handle_event_submit(TriggerEvent(detail.as_resume_event_payload()), task_instance=ti, session=session)


@dataclass
class PmiDriver(ScriptDriver):
    """``ScriptDriver`` plus ``Answer`` steps (a choice of several options, with the form's fields)."""

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        pending: list[Any] = list(self.script)
        try:
            while pending and not self._stop.is_set() and time.monotonic() < deadline:
                step = pending[0]
                state = self._states().get(step.task_id, "")
                if isinstance(step, Answer | Approve) and state == "awaiting_input":
                    time.sleep(ANSWER_AFTER_S)
                    if isinstance(step, Approve):
                        params = {"comment": step.comment}
                        answer(self.dag_id, self.run_id or "", step.task_id, step.option, step.user, params)
                    else:
                        answer(
                            self.dag_id, self.run_id or "", step.task_id, step.option, step.user, step.params
                        )
                elif isinstance(step, Expire) and state == "awaiting_input":
                    if not expire(self.dag_id, self.run_id or "", step.task_id):
                        time.sleep(POLL_S)
                        continue
                elif (
                    isinstance(step, Do)
                    and self.run_id is not None
                    and (not step.states or state in step.states)
                ):
                    step.action()
                else:
                    time.sleep(POLL_S)
                    continue
                self.done.append(step.task_id)
                pending.pop(0)
            if pending and not self._stop.is_set():
                self.errors.append(f"steps not reached: {[s.task_id for s in pending]}")
        except Exception:
            self.errors.append(traceback.format_exc())


def close_deal(deal_id: str) -> None:
    """The sales team closes the deal in the CRM: what makes it integrable."""
    from execution_plane.hooks.crm import CrmHook

    hook = CrmHook()
    try:
        hook.update_deal(deal_id, status="closed_won", idempotency_key=f"test-close-{deal_id}")
    finally:
        hook.close()


def run(
    dag: Any,
    script: list[Any],
    *,
    company: str = "TGT-3",
    closed: bool = True,
    **params: Any,
) -> tuple[Any, str]:
    request_id = f"pmi-{uuid.uuid4().hex[:10]}"
    deal_id = f"deal-{request_id}"
    if closed:
        close_deal(deal_id)
    driver = PmiDriver(DAG_ID, script, timeout_s=300, request_id=request_id).start()
    try:
        dr = dag.test(
            run_conf={
                "request_id": request_id,
                "deal_id": deal_id,
                "target_company": "Lumen Logistics",
                "target_company_id": company,
                "day_seconds": DAY_S,
                "decision_timeout_hours": 72,
                **params,
            }
        )
    finally:
        driver.stop()
    assert not driver.errors, driver.errors
    return dr, f"{DAG_ID}:{request_id}"


def outside_confirms(
    sandbox: Any, *, mandates: str = "activate", filing: str = "register"
) -> Callable[[], None]:
    """The banks answer every mandate and the registry decides the filing (their webhooks go nowhere here:
    the checklists ask the systems)."""

    def act() -> None:
        for effect in sandbox.effects(system="erp", action="request_mandate"):
            sandbox.post(f"/_sandbox/erp/bank-mandates/{effect['resource_id']}/{mandates}?deliver=false")
        for effect in sandbox.effects(system="legal", action="file_parent_change"):
            sandbox.post(f"/_sandbox/legal/parent-changes/{effect['resource_id']}/{filing}?deliver=false")

    return act


def fault(sandbox: Any, system: str, action: str, count: int) -> None:
    sandbox.post(
        "/_sandbox/faults",
        {"system": system, "action": action, "mode": "error", "status": 503, "count": count},
    )


def compensate(compensation_dag: Any, requested: list[dict[str, Any]], wf: str, bad_ending: str) -> Any:
    asks = [c for c in requested if c.get("workflow_id") == wf]
    assert asks, f"nobody asked to compensate {wf}: {requested}"
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


def one(db: Any, query: str, *args: Any) -> Any:
    (row,) = rows(db, query, *args)
    return row[0] if len(row) == 1 else row


def effect_counts(sandbox: Any) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in sandbox.effects())


def plan(db: Any, wf: str) -> dict[str, Any]:
    found: dict[str, Any] = one(db, "SELECT plan FROM pmi_programs WHERE workflow_id = %s", wf)
    return found


def functions(db: Any, wf: str) -> dict[str, str]:
    return dict(rows(db, "SELECT function, status FROM pmi_functions WHERE workflow_id = %s", wf))


def ledger(db: Any, wf: str) -> list[tuple[Any, ...]]:
    return rows(
        db,
        "SELECT step, status, compensation_action, compensated_at FROM saga_steps WHERE workflow_id = %s"
        " ORDER BY seq",
        wf,
    )


def task_states(dr: Any) -> dict[str, str | None]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            ti.task_id: str(ti.state) if ti.state else None for ti in dr.get_task_instances(session=session)
        }


def try_numbers(dr: Any) -> dict[str, int]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: ti.try_number for ti in dr.get_task_instances(session=session)}


def reviews(db: Any, wf: str) -> list[tuple[Any, ...]]:
    return rows(
        db,
        "SELECT phase, round, decision, extend_days, decided_by, due_at FROM pmi_phase_reviews"
        " WHERE workflow_id = %s ORDER BY due_at",
        wf,
    )


def day_offset(db: Any, wf: str, due_at: Any) -> float:
    day1 = one(db, "SELECT day1_at FROM pmi_programs WHERE workflow_id = %s", wf)
    return round((due_at - day1).total_seconds() / DAY_S, 6)


def day1_effects(p: dict[str, Any], *, functions: tuple[str, ...] = FUNCTIONS) -> Counter[tuple[str, str]]:
    """Day 1's outside effects for the given functions, from the plan."""
    assignable = [c for c in p["contracts"] if c["assignable"]]
    counts: Counter[tuple[str, str]] = Counter()
    if "hr" in functions:
        counts.update({("hris", "transfer_employees"): 1, ("email", "send"): len(p["employees"])})
    if "finance" in functions:
        counts.update({("erp", "link_ledgers"): 1, ("erp", "request_mandate"): len(p["bank_accounts"])})
    if "it" in functions:
        counts.update({("directory", "provision_accounts"): 1, ("directory", "grant_access"): 1})
    if "legal" in functions:
        counts.update({("legal", "file_parent_change"): 1, ("email", "send"): len(assignable)})
        if assignable:
            counts.update({("legal", "assign_contracts"): 1})
    if "crm" in functions:
        counts.update({("crm", "merge_customers"): 1, ("email", "send"): len(p["customers"])})
    return counts


ALL_PASS = [
    Approve("day1_readiness", LEAD, comment="all five functions ready"),
    Answer("day30.review_r1", "Pass"),
    Answer("day60.review_r1", "Pass"),
    Answer("day90.review_r1", "Pass"),
]


def affected(p: dict[str, Any], done: tuple[str, ...]) -> set[str]:
    """Everyone a stopped program must tell, given the functions whose Day-1 steps were done."""
    people = {p["owner_email"], LEAD_EMAIL}
    if "hr" in done or "it" in done:
        people |= {e["email"] for e in p["employees"]}
    if "finance" in done:
        people.add(p["controller_email"])
    if "legal" in done:
        people.add(p["counsel_email"])
        people |= {c["counterparty_email"] for c in p["contracts"] if c["assignable"]}
    if "crm" in done:
        people |= {c["email"] for c in p["customers"]}
    return people


def undo_effects(p: dict[str, Any], done: tuple[str, ...]) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter({("crm", "update_deal"): 1})
    if "hr" in done:
        counts[("hris", "revert_transfer")] += 1
    if "finance" in done:
        counts.update({("erp", "unlink_ledgers"): 1, ("erp", "revoke_mandate"): len(p["bank_accounts"])})
    if "it" in done:
        counts.update({("directory", "revoke_access"): 1, ("directory", "deprovision_accounts"): 1})
    if "legal" in done:
        counts[("legal", "revert_parent_change")] += 1
        if any(c["assignable"] for c in p["contracts"]):
            counts[("legal", "revert_assignment")] += 1
    if "crm" in done:
        counts[("crm", "unmerge_customers")] += 1
    counts[("email", "send")] += len(affected(p, done))
    return counts


def function_of(step: str) -> str | None:
    head = step.split(".", 1)[0]
    return head if head in FUNCTIONS and "." in step else None


def assert_compensated_once(
    db: Any,
    sandbox: Any,
    compensation_dag: Any,
    requested: list[dict[str, Any]],
    wf: str,
    bad_ending: str,
    *,
    done: tuple[str, ...],
) -> None:
    """Compensate, check each function was undone newest step first, the entities separated, everyone
    affected told once; compensate again and check nothing changed."""
    p = plan(db, wf)
    before = sandbox.effects()
    assert compensate(compensation_dag, requested, wf, bad_ending).state == "success"

    assert one(db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "compensated"
    steps = ledger(db, wf)
    undoable = [step for step, _status, action, _at in steps if action]
    assert {step for step, status, action, _ in steps if status == "compensated"} == set(undoable)
    order = [
        r[0]
        for r in rows(
            db,
            "SELECT details->>'step' FROM audit_log WHERE workflow_id = %s AND action = 'step.compensated'"
            " ORDER BY id",
            wf,
        )
    ]
    assert sorted(order) == sorted(undoable)
    # Each function undone in reverse order of its own steps; the program's own steps last.
    for function in FUNCTIONS:
        own = [s for s in undoable if function_of(s) == function]
        assert [s for s in order if function_of(s) == function] == own[::-1]
        assert bool(own) == (function in done), (function, own)
    assert order[-2:] == ["deal.integrating", "plan"]

    new = sandbox.effects()[len(before) :]
    assert Counter((e["system"], e["action"]) for e in new) == undo_effects(p, done)
    notices = [e for e in new if e["system"] == "email"]
    recipients = Counter(e["payload"]["to"] for e in notices)
    assert set(recipients) == affected(p, done) and set(recipients.values()) == {1}, recipients
    assert {e["payload"]["subject"] for e in notices} == {
        "The integration of Lumen Logistics into EP-GROUP is stopped"
    }
    if "hr" in done and "it" in done:
        body = next(e["payload"]["body"] for e in notices if e["payload"]["to"] == p["employees"][0]["email"])
        assert "transfer to EP-GROUP is reverted" in body and "account at" in body and "access to" in body
    deal_updates = [e["payload"]["status"] for e in sandbox.effects(system="crm", action="update_deal")]
    assert deal_updates[-1] == "integration_stopped"

    assert one(db, "SELECT status FROM pmi_programs WHERE workflow_id = %s", wf) == "rolled_back"
    statuses = functions(db, wf)
    assert {f for f, s in statuses.items() if s == "separated"} == set(done)
    assert rows(db, "SELECT count(*) FROM pmi_affected WHERE workflow_id = %s AND told_at IS NULL", wf) == [
        (0,)
    ]
    # The entities are separate again, as each system holds them.
    from execution_plane.hooks.crm import CrmHook
    from execution_plane.hooks.hris import HrisHook
    from execution_plane.hooks.legal import LegalHook

    company = p["target_company_id"]
    assert {e["employer_id"] for e in HrisHook().employees(company)} == {company}
    assert {c["merged_into"] for c in CrmHook().customers(company)} == {None}
    assert LegalHook().entity(company)["parent_id"] is None
    assert {c["held_by"] for c in LegalHook().contracts(company)} == {company}

    # A second compensation (a re-run, a reconciler that raced the callback) changes nothing.
    effects, affected_rows = (
        sandbox.effects(),
        rows(db, "SELECT * FROM pmi_affected WHERE workflow_id = %s", wf),
    )
    assert compensate(compensation_dag, requested, wf, bad_ending).state == "success"
    assert sandbox.effects() == effects
    assert ledger(db, wf) == steps
    assert rows(db, "SELECT * FROM pmi_affected WHERE workflow_id = %s", wf) == affected_rows
    assert one(db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "compensated"


# ----------------------------------------------------------------------------- the happy path
def test_happy_path_closes_with_its_report_once(
    dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    confirm = Do(
        "day60.review_r1", outside_confirms(sandbox), states=("scheduled", "queued", "running", "deferred")
    )
    script = [ALL_PASS[0], ALL_PASS[1], confirm, *ALL_PASS[2:]]
    # The banks and the registry confirm during Day 30..60: before the Day-60 checklist is taken.
    script = [ALL_PASS[0], ALL_PASS[1], Do("day60.due_r1", outside_confirms(sandbox)), *ALL_PASS[2:]]
    dr, wf = run(dag, script)

    assert dr.state == "success"
    assert requested == []
    db = business_db
    assert one(db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "completed"
    p = plan(db, wf)
    status, report = one(db, "SELECT status, report_sha256 FROM pmi_programs WHERE workflow_id = %s", wf)
    assert status == "closed" and report
    assert one(db, "SELECT kind FROM documents WHERE sha256 = %s", report) == "pmi_closing_report"
    assert functions(db, wf) == dict.fromkeys(FUNCTIONS, "done")

    # Each review when its day came, counted from Day 1; each passed with a complete checklist.
    found = reviews(db, wf)
    assert [(r[0], r[1], r[2], r[4]) for r in found] == [
        ("day30", 1, "pass", LEAD),
        ("day60", 1, "pass", LEAD),
        ("day90", 1, "pass", LEAD),
    ]
    assert [day_offset(db, wf, r[5]) for r in found] == [30, 60, 90]
    checks = rows(
        db,
        "SELECT phase, done_items, total_items FROM pmi_phase_reviews WHERE workflow_id = %s ORDER BY due_at",
        wf,
    )
    assert checks == [("day30", 10, 10), ("day60", 12, 12), ("day90", 13, 13)]
    decisions = rows(
        db,
        "SELECT stage, status, decided_by FROM approval_requests WHERE workflow_id = %s ORDER BY stage",
        wf,
    )
    assert decisions == [
        ("day1_readiness", "approved", LEAD),
        ("day30_review_r1", "approved", LEAD),
        ("day60_review_r1", "approved", LEAD),
        ("day90_review_r1", "approved", LEAD),
    ]

    # Each outside side effect exactly once.
    expected = day1_effects(p) + Counter(
        {
            ("crm", "update_deal"): 3,  # closed by sales (the test), integrating, integrated
            ("email", "send"): 4
            + 2,  # readiness + three review requests; the closing notice to owner and lead
            ("docstore", "put_object"): 1,  # the report
        }
    )
    assert effect_counts(sandbox) == expected
    assert [e["payload"]["status"] for e in sandbox.effects(system="crm", action="update_deal")] == [
        "closed_won",
        "integrating",
        "integrated",
    ]
    assert all(n == 1 for n in Counter(e["idempotency_key"] for e in sandbox.effects()).values())
    # Nothing failed, nothing ran twice, no function paused.
    states = task_states(dr)
    assert {states[f"{f}.attempt_1"] for f in FUNCTIONS} == {"success"}
    assert {states[f"{f}.paused_1"] for f in FUNCTIONS} == {"skipped"}
    assert all(n == 1 for task, n in try_numbers(dr).items() if states[task] != "skipped")


def test_an_account_name_taken_by_an_earlier_acquisition_gets_the_companys_name(
    dag: Any, sandbox: Any, business_db: Any
) -> None:
    """Two acquired companies can each have a dev.ivanova2: the directory refuses the second (409
    account_exists, naming it). That employee's account gets the company's id in its name (the IT
    convention), asked under a key of its own; the others keep their mailbox names; one provisioning."""
    from execution_plane.hooks.hris import HrisHook

    first = HrisHook().employees("TGT-3")[0]
    local = first["email"].split("@")[0]
    earlier = {"person_id": "OLD-1", "name": first["name"], "email": f"{local}@earlier-deal.example"}
    sandbox.post(
        "/directory/v1/provisionings",
        {"domain": "execution-plane.example", "source": "OLD", "people": [earlier]},
        headers={"Authorization": "Bearer t", "Idempotency-Key": "earlier-acquisition"},
    )
    dr, wf = run(dag, [ALL_PASS[0], Do("day30.due_r1", outside_confirms(sandbox)), *ALL_PASS[1:]])

    assert dr.state == "success"
    assert functions(business_db, wf) == dict.fromkeys(FUNCTIONS, "done")
    (mine,) = [
        e
        for e in sandbox.effects(system="directory", action="provision_accounts")
        if e["resource_id"] and e["idempotency_key"] != "earlier-acquisition"
    ]
    names = {p["person_id"]: p["upn"] for p in mine["payload"]["people"]}
    assert names[first["employee_id"]] == f"{local}.tgt-3@execution-plane.example"
    assert all(
        n == f"{e['email'].split('@')[0]}@execution-plane.example"
        for e in HrisHook().employees("TGT-3")
        for pid, n in names.items()
        if pid == e["employee_id"] and pid != first["employee_id"]
    )
    assert mine["idempotency_key"].endswith(":company-names")


# ----------------------------------------------------------------------------- bad endings
@pytest.mark.parametrize("how", ["rejected", "expired"])
def test_day1_readiness_not_given_compensates(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]], how: str
) -> None:
    gate = (
        Approve("day1_readiness", LEAD, "Reject", "IT cut-over not rehearsed")
        if how == "rejected"
        else Expire("day1_readiness")
    )
    dr, wf = run(dag, [gate], readiness_timeout_hours=0.001)

    assert dr.state == "failed"
    db = business_db
    status, reason = one(db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf)
    assert status == how
    assert reason == (
        "rejected at day1_readiness by integration_lead: IT cut-over not rehearsed"
        if how == "rejected"
        else "expired at day1_readiness by nobody (timed out)"
    )
    assert one(db, "SELECT status FROM pmi_programs WHERE workflow_id = %s", wf) == "not_started"
    assert functions(db, wf) == dict.fromkeys(FUNCTIONS, "pending")
    # Nothing was integrated: the CRM deal and the readiness request are all that happened outside.
    assert effect_counts(sandbox) == Counter({("crm", "update_deal"): 2, ("email", "send"): 1})
    assert task_states(dr)["day1_started"] == "skipped"
    assert any(c.get("note", "").startswith(f"{how.upper()}: {how} at day1_readiness") for c in requested)

    assert_compensated_once(db, sandbox, compensation_dag, requested, wf, how, done=())


def test_review_stops_program_undoing_each_function_in_reverse(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    script = [
        ALL_PASS[0],
        Do("day30.due_r1", outside_confirms(sandbox)),
        Answer("day30.review_r1", "Pass"),
        Answer("day60.review_r1", "Stop", {"comment": "synergy case gone"}),
    ]
    dr, wf = run(dag, script, company="TGT-2")  # 2 bank accounts, a contract that needs consent

    assert dr.state == "failed"
    db = business_db
    status, reason = one(db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf)
    assert (status, reason) == (
        "rejected",
        "rejected at day60_review_r1 by integration_lead: synergy case gone",
    )
    assert [(r[0], r[2]) for r in reviews(db, wf)] == [("day30", "pass"), ("day60", "stop")]
    assert one(db, "SELECT status FROM pmi_programs WHERE workflow_id = %s", wf) == "stopped"
    assert functions(db, wf) == dict.fromkeys(FUNCTIONS, "done")
    assert task_states(dr)["day60.review_r1_stopped"] == "failed"
    assert task_states(dr)["close_program"] == "skipped"

    assert_compensated_once(db, sandbox, compensation_dag, requested, wf, "rejected", done=FUNCTIONS)


def test_function_retried_another_skipped_review_extends_then_passes(
    dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    # HR's HRIS refuses for the whole first attempt (1 + 3 automatic retries); the second attempt goes
    # through. The directory is down for IT's first attempt and the integration lead skips IT.
    fault(sandbox, "hris", "transfer_employees", 4)
    fault(sandbox, "directory", "provision_accounts", 4)
    script = [
        ALL_PASS[0],
        Answer("hr.decision_1", "Retry", {"comment": "HRIS is back"}),
        Answer("it.decision_1", "Skip", {"comment": "IT cut-over next month"}),
        Do("day30.due_r1", outside_confirms(sandbox)),
        Answer("day30.review_r1", "Extend", {"extend_days": 5, "comment": "payroll parallel run"}),
        Answer("day30.review_r2", "Pass"),
        Answer("day60.review_r1", "Pass"),
        Answer("day90.review_r1", "Pass"),
    ]
    dr, wf = run(dag, script)

    assert dr.state == "success"
    assert requested == []
    db = business_db
    assert functions(db, wf) == {
        "hr": "done",
        "finance": "done",
        "it": "skipped",
        "legal": "done",
        "crm": "done",
    }
    attempts = dict(rows(db, "SELECT function, attempts FROM pmi_functions WHERE workflow_id = %s", wf))
    assert attempts == {"hr": 2, "finance": 1, "it": 1, "legal": 1, "crm": 1}
    last_error, decided_by = one(
        db, "SELECT last_error, decided_by FROM pmi_functions WHERE workflow_id = %s AND function = 'it'", wf
    )
    assert "directory answered HTTP 503" in last_error and decided_by == LEAD

    # Only HR and IT paused; every other function ran its attempt once.
    states, tries = task_states(dr), try_numbers(dr)
    assert (states["hr.attempt_1"], tries["hr.attempt_1"], states["hr.attempt_2"]) == ("failed", 4, "success")
    assert (states["it.attempt_1"], states["it.skipped_1"], states["it.attempt_2"]) == (
        "failed",
        "success",
        "skipped",
    )
    for function in ("finance", "legal", "crm"):
        assert (states[f"{function}.attempt_1"], tries[f"{function}.attempt_1"]) == ("success", 1)
        assert states[f"{function}.paused_1"] == "skipped"
    decisions = dict(
        rows(
            db,
            "SELECT stage, status FROM approval_requests WHERE workflow_id = %s"
            " AND stage LIKE '%%decision%%'",
            wf,
        )
    )
    assert decisions == {"hr_decision_1": "approved", "it_decision_1": "rejected"}
    # The paused function's person was asked once, by email, with the error.
    asks = [e for e in sandbox.effects(system="email") if e["payload"]["subject"].startswith("Day 1, IT")]
    assert len(asks) == 1 and "503" in asks[0]["payload"]["body"]

    # Extend by 5 moved the next wait: Day 30 reviewed again at day 35, Day 60 and 90 slipped by 5.
    found = reviews(db, wf)
    assert [(r[0], r[1], r[2], r[3]) for r in found] == [
        ("day30", 1, "extend", 5),
        ("day30", 2, "pass", None),
        ("day60", 1, "pass", None),
        ("day90", 1, "pass", None),
    ]
    assert [day_offset(db, wf, r[5]) for r in found] == [30, 35, 65, 95]
    # The skipped function is open on every checklist and handed over in the report.
    opened = rows(
        db,
        "SELECT phase, round, total_items - done_items FROM pmi_phase_reviews WHERE workflow_id = %s"
        " ORDER BY due_at",
        wf,
    )
    assert all(open_items >= 2 for _, _, open_items in opened)
    assert one(db, "SELECT status FROM pmi_programs WHERE workflow_id = %s", wf) == "closed"
    # IT never provisioned anything; HR transferred once although its first attempt ran four times.
    p = plan(db, wf)
    counts = effect_counts(sandbox)
    assert counts[("hris", "transfer_employees")] == 1 and counts[("directory", "provision_accounts")] == 0
    assert counts - Counter(
        {("crm", "update_deal"): 3, ("email", "send"): 5 + 2 + 2, ("docstore", "put_object"): 1}
    ) == (day1_effects(p, functions=("hr", "finance", "legal", "crm")))


def test_failure_that_cannot_be_resolved_stops_and_compensates(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    # The CRM refuses every merge: the integration lead retries twice, the third attempt fails too.
    fault(sandbox, "crm", "merge_customers", 1000)
    script = [
        ALL_PASS[0],
        Answer("crm.decision_1", "Retry"),
        Answer("crm.decision_2", "Retry"),
    ]
    dr, wf = run(dag, script)

    assert dr.state == "failed"
    db = business_db
    status, reason = one(db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf)
    assert status == "failed" and reason.startswith("crm could not be completed on Day 1 after 3 attempts: ")
    assert "crm answered HTTP 503" in reason
    assert functions(db, wf) == {
        "hr": "done",
        "finance": "done",
        "it": "done",
        "legal": "done",
        "crm": "failed",
    }
    states = task_states(dr)
    assert [states[f"crm.attempt_{n}"] for n in (1, 2, 3)] == ["failed"] * 3
    assert (states["crm.unresolved"], states["day1_closed"], states["day30.due_r1"]) == (
        "success",
        "failed",
        "upstream_failed",
    )
    assert reviews(db, wf) == []

    httpx.delete(f"{sandbox.url}/_sandbox/faults", timeout=10).raise_for_status()  # the CRM is back
    assert_compensated_once(
        db, sandbox, compensation_dag, requested, wf, "failed", done=("hr", "finance", "it", "legal")
    )


def test_review_expires_after_an_unanswered_decision_skipped(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    # The ERP is down for finance's first attempt and nobody answers its retry/skip decision in time:
    # finance is skipped. Later nobody reviews Day 60 in time: the program expires.
    fault(sandbox, "erp", "link_ledgers", 4)
    script = [
        ALL_PASS[0],
        Expire("finance.decision_1"),
        Answer("day30.review_r1", "Pass"),
        Expire("day60.review_r1"),
    ]
    dr, wf = run(dag, script, decision_timeout_hours=0.001, review_timeout_hours=0.002)

    assert dr.state == "failed"
    db = business_db
    status, reason = one(db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf)
    assert (status, reason) == ("expired", "expired at day60_review_r1 by nobody (timed out)")
    assert one(
        db, "SELECT status, decided_by FROM pmi_functions WHERE workflow_id = %s AND function = 'finance'", wf
    ) == ("skipped", "nobody (timed out)")
    assert [(r[0], r[2], r[4]) for r in reviews(db, wf)] == [
        ("day30", "pass", LEAD),
        ("day60", "expired", None),
    ]

    assert_compensated_once(
        db, sandbox, compensation_dag, requested, wf, "expired", done=("hr", "it", "legal", "crm")
    )


def test_a_deal_that_has_not_closed_is_refused_before_anything_happens(
    dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    dr, wf = run(dag, [], closed=False)

    assert dr.state == "failed"
    states = task_states(dr)
    assert states["closed_deal"] == "failed" and states["integration_plan"] == "upstream_failed"
    assert rows(business_db, "SELECT count(*) FROM saga_workflows WHERE workflow_id = %s", wf) == [(0,)]
    assert rows(business_db, "SELECT count(*) FROM pmi_programs WHERE workflow_id = %s", wf) == [(0,)]
    assert sandbox.effects() == []
    assert [c for c in requested if c.get("workflow_id") == wf] == []
