"""affiliate_onboarding through dag.test(): approved by rule and welcomed; approved by a person, then the
payout provider refuses the payout details and compensation deprovisions; rejected by rule; rejected by the
reviewer; the review expires; provisioning fails half-way and compensation undoes what was made; bad input
stops the run before anything is recorded. Each checked against the application record, the saga ledger and
the sandbox's effect log; each compensation run the way production runs it (the conf the workflow asked
for), twice, the second changing nothing.

The reviewer answers through the Driver as Airflow's hitlDetails route does; the payout provider decides in
the sandbox (``deliver=false``) and its signed webhook goes through the real webhook app.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.dagtest import Approve, Do, Expire, ScriptDriver, deliver
from tests.support.workflow_runs import (
    compensate_as_asked,
    dag_under_test,
    ledger_steps,
    load_dag,
    one,
    record_rest_calls,
    rows,
    task_states,
    workflow_status,
)

pytestmark = pytest.mark.timeout(300)

DAG_ID = "affiliate_onboarding"
WALL: dict[str, float] = {}
PROVISIONING_UNDOS = [
    "affiliate_onboarding.close_record",
    "affiliate_onboarding.close_account",
    "affiliate_onboarding.deactivate_links",
    "affiliate_onboarding.remove_payout_profile",
    "message.notify",
]


@pytest.fixture(scope="module")
def dag() -> Iterator[Any]:
    with dag_under_test(DAG_ID) as loaded:
        yield loaded
    print("\ndag.test() wall times (s):", {name: round(s, 1) for name, s in WALL.items()})


@pytest.fixture(scope="module")
def compensation_dag() -> Any:
    return load_dag("saga_compensation")


@pytest.fixture
def requested(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    return record_rest_calls(monkeypatch)


#: Every param, each run: dag.test() keeps a run's conf in the DAG's params for the next run of the module.
DEFAULTS: dict[str, Any] = {
    "company": "",
    "website": "",
    "country": "",
    "monthly_visitors": 0,
    "audience_description": "",
    "payout_method": "bank_transfer",
    "payout_currency": "USD",
    "auto_approve_score": 70,
    "auto_reject_score": 35,
    "approval_timeout_hours": 48,
    "payout_verification_timeout_hours": 168,
}


def application(tag: str, **changes: Any) -> dict[str, Any]:
    """A complete application (approved by rule with a clean record), on its own email and ids."""
    request_id = f"aff-{tag}-{uuid.uuid4().hex[:8]}"
    return {
        **DEFAULTS,
        "request_id": request_id,
        "applicant_name": "Lena Fischer",
        "email": f"lena.{request_id}@fischerreviews.de",
        "company": "Fischer Reviews",
        "website": "https://fischerreviews.de",
        "country": "DE",
        "promotion_methods": ["content", "email"],
        "monthly_visitors": 120_000,
        "audience_description": "German tech buyers reading hands-on reviews",
        **changes,
    }


def needs_review(tag: str, **changes: Any) -> dict[str, Any]:
    """Nothing optional given, a free mailbox: score 35, between the thresholds."""
    request_id = f"aff-{tag}-{uuid.uuid4().hex[:8]}"
    return {
        **DEFAULTS,
        "request_id": request_id,
        "applicant_name": "Sam Porter",
        "email": f"sam.{request_id}@gmail.com",
        "promotion_methods": ["social"],
        **changes,
    }


def run(dag: Any, conf: dict[str, Any], script: list[Any], name: str) -> tuple[Any, str]:
    driver = ScriptDriver(DAG_ID, script, request_id=conf["request_id"], timeout_s=180).start()
    started = time.monotonic()
    try:
        dr = dag.test(run_conf=conf)
    finally:
        driver.stop()
    WALL[name] = time.monotonic() - started
    assert not driver.errors, driver.errors
    return dr, f"{DAG_ID}:{conf['request_id']}"


def record(db: Any, wf: str) -> dict[str, Any]:
    (row,) = rows(
        db,
        "SELECT status, decision, score, decided_by, account_id, link_set_id, payout_profile_id, reason"
        " FROM affiliate_applications WHERE workflow_id = %s",
        wf,
    )
    keys = ("status", "decision", "score", "decided_by", "account_id", "link_set_id", "profile_id", "reason")
    return dict(zip(keys, row, strict=True))


def provider_verdict(sandbox: Any, db: Any, wf: str, action: str) -> Do:
    """Once the run waits for it: the payout provider verifies or rejects the profile, its webhook arrives."""

    def act() -> None:
        profile_id = one(
            db, "SELECT payout_profile_id FROM affiliate_applications WHERE workflow_id = %s", wf
        )
        body = {"reason": "account holder name does not match"} if action == "reject" else None
        event = sandbox.post(f"/_sandbox/payouts/profiles/{profile_id}/{action}?deliver=false", body)["event"]
        deliver("events/payouts", event)

    return Do("payout_verification", act, states=("scheduled", "queued", "running", "deferred"))


def effects(sandbox: Any, wf: str) -> Counter[tuple[str, str]]:
    """This workflow's effects at every outside system (its ids appear in each request or resource)."""
    mine = [
        e
        for e in sandbox.effects()
        if wf in str(e) or wf.split(":", 1)[1] in str(e) or e.get("resource_id") in OWNED.get(wf, ())
    ]
    return Counter((e["system"], e["action"]) for e in mine)


OWNED: dict[str, set[str]] = {}


def own(db: Any, wf: str) -> None:
    """The provider ids of the workflow's resources (their undo requests name only those)."""
    rec = record(db, wf)
    OWNED[wf] = {v for v in (rec["account_id"], rec["link_set_id"], rec["profile_id"]) if v}


def compensated_twice(
    compensation_dag: Any, requested: list[dict[str, Any]], sandbox: Any, db: Any, wf: str
) -> Counter[tuple[str, str]]:
    first = compensate_as_asked(compensation_dag, requested, wf)
    assert first.state == "success"
    after_first = effects(sandbox, wf)
    second = compensate_as_asked(compensation_dag, requested, wf)
    assert second.state == "success" and effects(sandbox, wf) == after_first
    assert workflow_status(wf)[0] == "compensated"
    return after_first


# ----------------------------------------------------------------------------- the happy path
def test_approved_by_rule_provisioned_verified_and_welcomed(
    dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    conf = application("rule")
    wf = f"{DAG_ID}:{conf['request_id']}"
    dr, wf = run(dag, conf, [provider_verdict(sandbox, business_db, wf, "verify")], "approved_by_rule")

    assert dr.state == "success", task_states(dr)
    states = task_states(dr)
    assert states["approved_by_rule"] == "success" and states["affiliate_review"] == "skipped"
    assert states["auto_rejected"] == "skipped" and states["payout_not_verified"] == "skipped"
    assert states["complete"] == "success" and len(states) == 14
    rec = record(business_db, wf)
    assert (rec["status"], rec["decision"], rec["score"], rec["decided_by"]) == (
        "active",
        "approve",
        75,
        "rule",
    )
    assert workflow_status(wf) == ("completed", None)
    assert [s for s, status, _ in ledger_steps(business_db, wf) if status == "done"] == [
        "application_received",
        "sanctions_screening",
        "evaluation",
        "affiliate_account",
        "tracking_links",
        "payout_profile",
        "payout_setup.email",
        "provisioned_record",
        "account_activation",
        "active_record",
        "welcome.email",
    ]
    own(business_db, wf)
    assert effects(sandbox, wf) == {
        ("sanctions", "screen"): 1,
        ("affiliates", "create_account"): 1,
        ("affiliates", "create_links"): 1,
        ("payouts", "create_profile"): 1,
        ("affiliates", "activate_account"): 1,
        ("email", "send"): 2,
    }
    account = sandbox.get(f"/affiliates/v1/accounts/{rec['account_id']}", headers=AFFILIATES_AUTH)
    assert account["status"] == "active" and account["commission_plan"] == "growth"
    # The trust score service stored the applicant's score (the same computation as its route).
    assert (
        one(
            business_db,
            "SELECT score FROM trust_scores WHERE subject_type = 'affiliate' AND subject_id ="
            " (SELECT affiliate_id FROM affiliate_applications WHERE workflow_id = %s)",
            wf,
        )
        == 50
    )
    assert requested == []


AFFILIATES_AUTH = {"Authorization": "Bearer local-affiliates-token"}


# ----------------------------------------------------------------------------- later rejected: deprovisioned
def test_person_approves_then_payout_rejected_deprovisions_newest_first(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    conf = needs_review("kyc")
    wf = f"{DAG_ID}:{conf['request_id']}"
    script = [
        Approve("affiliate_review", "manager", comment="small but genuine"),
        provider_verdict(sandbox, business_db, wf, "reject"),
    ]
    dr, wf = run(dag, conf, script, "person_approves_then_payout_rejected")

    assert dr.state == "failed"
    states = task_states(dr)
    assert states["affiliate_review"] == "success" and states["approved_by_rule"] == "skipped"
    assert states["payout_not_verified"] == "failed" and states["activate"] == "skipped"
    rec = record(business_db, wf)
    assert (rec["status"], rec["decision"], rec["score"], rec["decided_by"]) == (
        "rejected",
        "review",
        35,
        "manager",
    )
    assert "rejected profile" in rec["reason"] and "holder name does not match" in rec["reason"]
    assert [(r["bad_ending"], r["reason"]) for r in requested if "workflow_id" in r] == [
        ("rejected", rec["reason"])
    ]
    own(business_db, wf)
    before = effects(sandbox, wf)

    after = compensated_twice(compensation_dag, requested, sandbox, business_db, wf)

    assert after - before == {
        ("email", "send"): 1,
        ("payouts", "remove_profile"): 1,
        ("affiliates", "deactivate_links"): 1,
        ("affiliates", "close_account"): 1,
    }
    assert record(business_db, wf)["status"] == "deprovisioned"
    # Each undo logged in the audit chain, newest step first.
    undone = rows(
        business_db,
        "SELECT details->>'compensation' FROM audit_log WHERE workflow_id = %s"
        " AND action = 'step.compensated' ORDER BY id",
        wf,
    )
    assert [a for (a,) in undone] == list(reversed(PROVISIONING_UNDOS))


# ----------------------------------------------------------------------------- rejected before provisioning
def test_rejected_by_rule_tells_the_applicant_and_provisions_nothing(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    conf = application("blocked")
    conf["email"] = f"lena.{conf['request_id']}@mailinator.com"
    dr, wf = run(dag, conf, [], "rejected_by_rule")

    assert dr.state == "failed"
    states = task_states(dr)
    assert states["auto_rejected"] == "failed" and states["affiliate_review"] == "skipped"
    assert states["provision"] == "skipped"
    rec = record(business_db, wf)
    assert (rec["status"], rec["decision"], rec["decided_by"]) == ("rejected", "reject", "rule")
    assert rec["reason"].startswith("rejected by rule: email_domain check failed")
    assert effects(sandbox, wf) == {("sanctions", "screen"): 1, ("email", "send"): 1}

    compensated_twice(compensation_dag, requested, sandbox, business_db, wf)
    assert record(business_db, wf)["status"] == "rejected"
    assert effects(sandbox, wf) == {("sanctions", "screen"): 1, ("email", "send"): 1}


def test_the_reviewer_rejects(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    conf = needs_review("no")
    dr, wf = run(
        dag, conf, [Approve("affiliate_review", "manager", "Reject", "no audience")], "person_rejects"
    )

    assert dr.state == "failed"
    assert task_states(dr)["affiliate_review_not_approved"] == "failed"
    rec = record(business_db, wf)
    assert (rec["status"], rec["decided_by"]) == ("rejected", "manager")
    assert rec["reason"] == "rejected at affiliate_review by manager: no audience"
    # The reviewer's request email, the applicant's decline.
    assert effects(sandbox, wf) == {("sanctions", "screen"): 1, ("email", "send"): 2}
    compensated_twice(compensation_dag, requested, sandbox, business_db, wf)
    assert record(business_db, wf)["status"] == "rejected"


def test_the_review_expires(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    conf = needs_review("late", approval_timeout_hours=0.0005)
    dr, wf = run(dag, conf, [Expire("affiliate_review")], "review_expires")

    assert dr.state == "failed"
    rec = record(business_db, wf)
    assert (rec["status"], rec["decided_by"]) == ("expired", None)
    assert rec["reason"] == "expired at affiliate_review by nobody (timed out)"
    assert [r["bad_ending"] for r in requested if "workflow_id" in r] == ["expired"]
    compensated_twice(compensation_dag, requested, sandbox, business_db, wf)
    assert record(business_db, wf)["status"] == "expired"


# ----------------------------------------------------------------------------- provisioning fails half-way
def test_provisioning_fails_and_compensation_undoes_what_was_made(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    sandbox.post(
        "/_sandbox/faults",
        {"system": "payouts", "action": "create_profile", "mode": "error", "status": 503, "count": 50},
    )
    conf = application("broken")
    dr, wf = run(dag, conf, [], "provisioning_fails")

    assert dr.state == "failed"
    states = task_states(dr)
    assert states["provision"] == "failed" and states["payout_verification"] == "upstream_failed"
    rec = record(business_db, wf)
    assert rec["status"] == "approved" and rec["account_id"] and rec["link_set_id"] and not rec["profile_id"]
    own(business_db, wf)
    # The failure callback asks for compensation (dag.test has none: asked here as it would).
    requested.append(
        {
            "workflow_id": wf,
            "reason": "failed after retries: provision",
            "bad_ending": "failed",
            "source": f"on_failure_callback:{dr.run_id}",
        }
    )
    before = effects(sandbox, wf)
    after = compensated_twice(compensation_dag, requested, sandbox, business_db, wf)

    assert after - before == {("affiliates", "deactivate_links"): 1, ("affiliates", "close_account"): 1}
    assert record(business_db, wf)["status"] == "deprovisioned"
    assert ("payouts", "create_profile") not in after and ("email", "send") not in after


# ----------------------------------------------------------------------------- bad input
def test_bad_input_stops_the_run_before_anything_is_recorded(
    dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    conf = application("bad", website="not a website")
    dr, wf = run(dag, conf, [], "bad_input")

    assert dr.state == "failed"
    states = task_states(dr)
    assert states["check_application"] == "failed"
    assert {s for t, s in states.items() if t != "check_application"} <= {"upstream_failed", "skipped"}
    assert workflow_status(wf) is None
    assert rows(business_db, "SELECT 1 FROM affiliate_applications WHERE workflow_id = %s", wf) == []
    assert effects(sandbox, wf) == {} and requested == []
