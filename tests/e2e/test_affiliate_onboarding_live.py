"""affiliate_onboarding on a running Airflow, driven only through public interfaces.

Started by the signup form's signed webhook (the CRM ingress, played by the sandbox) and by the REST API;
the review answered through Airflow's HITL REST API as the assigned reviewer; the payout provider decides in
the sandbox, whose signed webhook reaches ``/webhooks/events/payouts`` and ends the wait. Checked against the
sandbox's effect log (filtered to this application) and the business tables.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any

import pytest

pytestmark = [pytest.mark.live, pytest.mark.timeout(900)]

DAG = "affiliate_onboarding"
PEOPLE_DELAY_S = 1.2  # people are never faster than a second (Airflow 3.3.2 early-answer failure)
# A step takes ~1 s on a quiet machine and 20-30 s on the shared 2-core one (load 30+): wait long enough.
WAIT_S = 420
AFFILIATES = {"Authorization": "Bearer local-affiliates-token"}


def rows(db: Any, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall()


def mine(live: Any, request_id: str) -> list[dict[str, Any]]:
    """This application's effects: every request naming it, and the undos of the resources made for it."""
    named = [e for e in live.effects() if request_id in json.dumps(e)]
    owned = {
        e["resource_id"] for e in named if e["action"] in ("create_account", "create_links", "create_profile")
    }
    return [e for e in live.effects() if request_id in json.dumps(e) or e.get("resource_id") in owned]


def counts(effects: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in effects)


def assert_each_once(effects: list[dict[str, Any]]) -> None:
    keyed = Counter((e["system"], e["action"], e["idempotency_key"]) for e in effects if e["idempotency_key"])
    assert max(keyed.values(), default=1) == 1, keyed


def profile_of(live: Any, email: str) -> str:
    """The payout profile the run created for ``email`` (the provider's record of it)."""
    found = [
        e["resource_id"]
        for e in live.effects(system="payouts", action="create_profile")
        if e["payload"]["email"] == email
    ]
    assert len(found) == 1, found
    return str(found[0])


def provider_decides(live: Any, run_id: str, email: str, action: str) -> float:
    """Once the run waits for it, the payout provider verifies or rejects; its signed webhook is delivered.
    Returns the seconds from the decision to the wait's end."""
    af = live.airflow
    af.wait_task_state(DAG, run_id, "payout_verification", ("deferred",), timeout=WAIT_S)
    profile_id = profile_of(live, email)
    started = time.monotonic()
    body = {"reason": "account holder name does not match"} if action == "reject" else None
    delivery = live.sandbox("POST", f"/_sandbox/payouts/profiles/{profile_id}/{action}", json=body)
    assert [d["status_code"] for d in delivery["deliveries"]] == [202], delivery
    af.wait_task_state(DAG, run_id, "payout_verification", ("success",), timeout=120)
    return time.monotonic() - started


def application(request_id: str, **changes: Any) -> dict[str, Any]:
    return {
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


def test_signup_webhook_review_approved_verified_and_welcomed(live: Any, business_db: Any) -> None:
    af = live.airflow
    t0 = time.monotonic()
    request_id = f"aff-{uuid.uuid4().hex[:10]}"
    workflow_id = f"{DAG}:{request_id}"
    email = f"sam.{request_id}@gmail.com"
    event_id = f"signup-{request_id}"
    run_id = f"crm__{event_id}"

    # (a) The signup form's backend sends the application through the signed start webhook; a redelivery
    # starts nothing. Nothing optional given and a free mailbox: the evaluation asks a person.
    event = {
        "event_id": event_id,
        "workflow": DAG,
        "payload": {
            "request_id": request_id,
            "applicant_name": "Sam Porter",
            "email": email,
            "promotion_methods": ["social"],
        },
    }
    first = live.sandbox("POST", "/_sandbox/crm/events", json=event)
    assert [d["status_code"] for d in first["deliveries"]] == [202], first  # {"status": "accepted"}
    again = live.sandbox("POST", "/_sandbox/crm/events", json=event)
    assert [d["status_code"] for d in again["deliveries"]] == [200], again  # {"status": "duplicate"}
    conf = af.wait_started(DAG, run_id, timeout=WAIT_S)["conf"]
    assert conf["request_id"] == request_id and conf["email"] == email and conf["auto_approve_score"] == 70

    # (b) The reviewer answers through the HITL REST API, as themselves.
    af.wait_task_state(DAG, run_id, "affiliate_review", ("awaiting_input",), timeout=WAIT_S)
    waited_for_review = time.monotonic() - t0
    detail = af.request("GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/affiliate_review/-1/hitlDetails")
    assert detail.status_code == 200, detail.text
    assert "Score 35/100 (review)" in detail.json()["body"]
    time.sleep(PEOPLE_DELAY_S)
    assert af.answer(DAG, run_id, "affiliate_review", "Approve", user="legal").status_code == 403
    resp = af.answer(DAG, run_id, "affiliate_review", "Approve", user="manager", comment="small but genuine")
    assert resp.status_code == 200, resp.text
    assert af.answer(DAG, run_id, "affiliate_review", "Reject", user="manager").status_code == 409

    # (c) The payout provider verifies the payout details; its webhook ends the wait.
    webhook_to_resume = provider_decides(live, run_id, email, "verify")
    mark = time.monotonic()
    assert af.wait_run(DAG, run_id, timeout=WAIT_S) == "success"
    to_the_end = time.monotonic() - mark
    wall = time.monotonic() - t0

    states = af.task_states(DAG, run_id)
    assert states["approved_by_rule"] == "skipped" and states["affiliate_review"] == "success"
    assert states["complete"] == "success"
    assert rows(
        business_db,
        "SELECT status, decision, score, decided_by FROM affiliate_applications WHERE workflow_id = %s",
        workflow_id,
    ) == [("active", "review", 35, "manager")]
    assert rows(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", workflow_id) == [
        ("completed",)
    ]
    effects = mine(live, request_id)
    # Screening, account, links, activation, profile; the reviewer's request, the payout set-up and the
    # welcome emails.
    assert counts(effects) == {
        ("sanctions", "screen"): 1,
        ("affiliates", "create_account"): 1,
        ("affiliates", "create_links"): 1,
        ("payouts", "create_profile"): 1,
        ("affiliates", "activate_account"): 1,
        ("email", "send"): 3,
    }, counts(effects)
    assert_each_once(effects)
    (account_id,) = [e["resource_id"] for e in effects if e["action"] == "create_account"]
    account = live.sandbox("GET", f"/affiliates/v1/accounts/{account_id}", headers=AFFILIATES)
    assert account["status"] == "active" and account["commission_plan"] == "starter"
    welcome = [e for e in effects if e["system"] == "email" and e["payload"]["subject"].startswith("Welcome")]
    assert len(welcome) == 1 and "go.affiliates.example" in welcome[0]["payload"]["body"]
    print(
        f"\nsignup webhook -> review open: {waited_for_review:.1f} s; provider webhook -> wait ended:"
        f" {webhook_to_resume:.1f} s; -> run success: {to_the_end:.1f} s; wall {wall:.1f} s;"
        f" {len(states)} tasks"
    )


def test_rest_started_approved_by_rule_then_payout_rejected_is_deprovisioned_once(
    live: Any, business_db: Any
) -> None:
    af = live.airflow
    t0 = time.monotonic()
    request_id = f"aff-{uuid.uuid4().hex[:10]}"
    workflow_id = f"{DAG}:{request_id}"
    run_id = f"e2e__{request_id}"
    conf = application(request_id)

    # Bad input is refused before a run exists, naming the field.
    bad = af.trigger(DAG, f"{run_id}-bad", {**conf, "promotion_methods": ["spam"]})
    assert bad.status_code == 400 and "promotion_methods" in bad.text, bad.text

    resp = af.trigger(DAG, run_id, conf)
    assert resp.status_code == 200, resp.text
    provider_decides(live, run_id, conf["email"], "reject")
    assert af.wait_run(DAG, run_id, timeout=WAIT_S) == "failed"
    failed_at = time.monotonic() - t0
    (reason,) = rows(
        business_db, "SELECT reason FROM affiliate_applications WHERE workflow_id = %s", workflow_id
    )[0]
    assert reason.startswith("payout provider rejected profile") and reason.endswith("does not match")
    assert af.run(DAG, run_id).get("note") == f"REJECTED: {reason}"
    states = af.task_states(DAG, run_id)
    assert states["approved_by_rule"] == "success" and states["affiliate_review"] == "skipped"
    assert states["payout_not_verified"] == "failed" and states["activate"] == "skipped"

    comp_run = f"compensate__{workflow_id}"
    assert af.wait_run("saga_compensation", comp_run, timeout=WAIT_S) == "success"
    compensated_at = time.monotonic() - t0
    assert rows(
        business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", workflow_id
    ) == [("compensated", reason)]
    assert rows(
        business_db,
        "SELECT status, decided_by FROM affiliate_applications WHERE workflow_id = %s",
        workflow_id,
    ) == [("deprovisioned", "rule")]
    undone = rows(
        business_db,
        "SELECT details->>'compensation' FROM audit_log WHERE workflow_id = %s"
        " AND action = 'step.compensated' ORDER BY id",
        workflow_id,
    )
    assert [a for (a,) in undone] == [
        "message.notify",
        "affiliate_onboarding.remove_payout_profile",
        "affiliate_onboarding.deactivate_links",
        "affiliate_onboarding.close_account",
        "affiliate_onboarding.close_record",
    ]
    effects = mine(live, request_id)
    assert counts(effects) == {
        ("sanctions", "screen"): 1,
        ("affiliates", "create_account"): 1,
        ("affiliates", "create_links"): 1,
        ("payouts", "create_profile"): 1,
        ("email", "send"): 2,
        ("payouts", "remove_profile"): 1,
        ("affiliates", "deactivate_links"): 1,
        ("affiliates", "close_account"): 1,
    }, counts(effects)
    assert_each_once(effects)
    (account_id,) = [e["resource_id"] for e in effects if e["action"] == "create_account"]
    assert (
        live.sandbox("GET", f"/affiliates/v1/accounts/{account_id}", headers=AFFILIATES)["status"] == "closed"
    )

    # Asking again (the failure callback does; so would the reconciler) is a 409 and changes nothing.
    again = af.trigger("saga_compensation", comp_run, {"workflow_id": workflow_id, "bad_ending": "rejected"})
    assert again.status_code == 409, again.text
    assert len(mine(live, request_id)) == len(effects)
    print(
        f"\nREST start -> run failed: {failed_at:.1f} s; -> compensation success: {compensated_at:.1f} s;"
        f" {len(states)} tasks"
    )
