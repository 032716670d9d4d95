"""pmi_program on a running Airflow, through public interfaces only: the deal is closed in the CRM and the
program started by the REST API or by the CRM's signed webhook; the integration lead answers the readiness
gate, a function's retry/skip decision and the phase reviews through the REST API (an extension's days in
``params_input``); the banks and the companies registry act through the sandbox's control routes and their
signed webhooks reach the live ``/webhooks/events/erp`` and ``/webhooks/events/legal`` routes. A program day
lasts one second. Checked against the sandbox's effect log and the business tables."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

import pytest

from execution_plane.saga.keys import message_id

pytestmark = [pytest.mark.live, pytest.mark.timeout(900)]

DAG = "pmi_program"
LEAD = "integration_lead"
DAY_S = 1.0
FUNCTIONS = ("hr", "finance", "it", "legal", "crm")
AUTH = {"Authorization": "Bearer e2e-sales"}


def start(live: Any, request_id: str, company: str, *, via_crm: bool = False) -> str:
    """Sales closes the deal in the CRM; the program starts by the REST API or by the CRM's signed webhook."""
    deal_id = f"deal-{request_id}"
    live.sandbox("PATCH", f"/crm/v1/deals/{deal_id}", json={"status": "closed_won"}, headers=AUTH)
    conf = {
        "request_id": request_id,
        "deal_id": deal_id,
        "target_company": "Lumen Logistics",
        "target_company_id": company,
        "day_seconds": DAY_S,
    }
    if via_crm:
        event_id = f"crm-{request_id}"
        result = live.sandbox(
            "POST", "/_sandbox/crm/events", json={"event_id": event_id, "workflow": DAG, "payload": conf}
        )
        assert [d["status_code"] for d in result["deliveries"]] == [202], result
        live.airflow.wait_started(DAG, f"crm__{event_id}")
        return f"crm__{event_id}"
    run_id = f"pmi__{request_id}"
    resp = live.airflow.trigger(DAG, run_id, conf)
    assert resp.status_code == 200, resp.text
    return run_id


def wait_state(live: Any, run_id: str, task_id: str, states: tuple[str, ...], timeout: float = 400) -> str:
    """One task instance's state (the run has 126 tasks: more than the API's page of task instances)."""

    def state() -> str | None:
        resp = live.airflow.request("GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/{task_id}")
        found = resp.json().get("state") if resp.status_code == 200 else None
        return found if found in states else None

    return str(live.airflow.wait(f"{run_id}/{task_id} in {states}", state, timeout, interval=0.5))


def answer(live: Any, run_id: str, task_id: str, option: str, **params: Any) -> None:
    af = live.airflow
    wait_state(live, run_id, task_id, ("awaiting_input",))
    time.sleep(1.2)  # people are not faster than that (Airflow 3.3.2 early-answer failure)
    resp = af.request(
        "PATCH",
        f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails",
        user=LEAD,
        json={"chosen_options": [option], "params_input": {"comment": "e2e", **params}},
    )
    assert resp.status_code == 200, resp.text


def resources(live: Any, system: str, action: str, request_id: str, count: int) -> list[str]:
    """The ids the provider gave what this program asked for (from the sandbox's effect log)."""

    def found() -> list[str] | None:
        ids = [
            str(e["resource_id"])
            for e in live.effects(system=system, action=action)
            if f"pmi_program:{request_id}:" in str(e["idempotency_key"])
        ]
        return ids if len(ids) >= count else None

    return list(live.airflow.wait(f"{system}.{action} of {request_id}", found, 300, interval=0.5))


def outside_confirms(live: Any, request_id: str, business_db: Any) -> None:
    """Every bank activates its mandate, the registry registers the filing: their signed webhooks reach the
    ingress (202)."""
    plan = row(business_db, "SELECT plan FROM pmi_programs WHERE workflow_id = %s", f"{DAG}:{request_id}")[0]
    for mandate_id in resources(live, "erp", "request_mandate", request_id, len(plan["bank_accounts"])):
        result = live.sandbox("POST", f"/_sandbox/erp/bank-mandates/{mandate_id}/activate")
        assert [d["status_code"] for d in result["deliveries"]] == [202], result
    (change_id,) = resources(live, "legal", "file_parent_change", request_id, 1)
    result = live.sandbox("POST", f"/_sandbox/legal/parent-changes/{change_id}/register")
    assert [d["status_code"] for d in result["deliveries"]] == [202], result


def row(db: Any, query: str, *args: Any) -> tuple[Any, ...]:
    with db.cursor() as cur:
        cur.execute(query, args)
        found: tuple[Any, ...] = cur.fetchone()
        return found


def rows(db: Any, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall()


def mine(live: Any, request_id: str) -> list[dict[str, Any]]:
    return [e for e in live.effects() if f"pmi_program:{request_id}:" in str(e.get("idempotency_key"))]


def once_each(live: Any, request_id: str) -> list[dict[str, Any]]:
    effects = mine(live, request_id)
    assert effects
    per_key = Counter((e["system"], e["action"], e["idempotency_key"]) for e in effects)
    assert all(n == 1 for n in per_key.values()), per_key
    return effects


def test_program_extends_day30_then_closes(live: Any, business_db: Any) -> None:
    request_id = f"pmil-{uuid.uuid4().hex[:8]}"
    wf = f"{DAG}:{request_id}"
    run_id = start(live, request_id, company=f"T-{request_id}")
    answer(live, run_id, "day1_readiness", "Approve")
    # Day 30 is 30 s after Day 1: the date wait is deferred (no worker) until then.
    assert wait_state(live, run_id, "day30.wait_r1", ("deferred",), timeout=120) == "deferred"
    outside_confirms(live, request_id, business_db)
    answer(live, run_id, "day30.review_r1", "Extend", extend_days=2)
    answer(live, run_id, "day30.review_r2", "Pass")
    answer(live, run_id, "day60.review_r1", "Pass")
    answer(live, run_id, "day90.review_r1", "Pass")
    assert live.airflow.wait_run(DAG, run_id, timeout=300) == "success"

    assert row(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == ("completed",)
    status, report = row(
        business_db, "SELECT status, report_sha256 FROM pmi_programs WHERE workflow_id = %s", wf
    )
    assert status == "closed" and report
    assert dict(
        rows(business_db, "SELECT function, status FROM pmi_functions WHERE workflow_id = %s", wf)
    ) == (dict.fromkeys(FUNCTIONS, "done"))
    reviews = rows(
        business_db,
        "SELECT p.phase, p.round, p.decision, p.extend_days, extract(epoch FROM p.due_at - g.day1_at)"
        " FROM pmi_phase_reviews p JOIN pmi_programs g USING (workflow_id) WHERE workflow_id = %s"
        " ORDER BY p.due_at",
        wf,
    )
    assert [(r[0], r[1], r[2], r[3], round(float(r[4]) / DAY_S, 3)) for r in reviews] == [
        ("day30", 1, "extend", 2, 30),
        ("day30", 2, "pass", None, 32),
        ("day60", 1, "pass", None, 62),
        ("day90", 1, "pass", None, 92),
    ]
    # The Day-60 checklist saw the banks' and the registry's confirmations.
    assert row(
        business_db,
        "SELECT done_items = total_items FROM pmi_phase_reviews WHERE workflow_id = %s AND phase = 'day60'",
        wf,
    ) == (True,)
    effects = once_each(live, request_id)
    counts = Counter((e["system"], e["action"]) for e in effects)
    assert counts[("hris", "transfer_employees")] == counts[("erp", "link_ledgers")] == 1
    assert counts[("directory", "provision_accounts")] == counts[("crm", "merge_customers")] == 1
    assert not [
        e for e in effects if e["action"].startswith(("revert", "unlink", "revoke", "deprovision", "unmerge"))
    ]


def test_a_paused_function_is_skipped_alone_then_a_review_stops_the_program(
    live: Any, business_db: Any
) -> None:
    request_id = f"pmil-{uuid.uuid4().hex[:8]}"
    wf = f"{DAG}:{request_id}"
    # The HRIS refuses HR's first attempt through all its automatic retries.
    live.sandbox(
        "POST",
        "/_sandbox/faults",
        json={"system": "hris", "action": "transfer_employees", "mode": "error", "status": 503, "count": 4},
    )
    run_id = start(live, request_id, company=f"T-{request_id}", via_crm=True)
    answer(live, run_id, "day1_readiness", "Approve")
    wait_state(live, run_id, "hr.decision_1", ("awaiting_input",))
    # Only HR is paused, its decision open: the other four functions finish their Day 1 meanwhile.
    paused_alone = {"hr": "paused", "finance": "done", "it": "done", "legal": "done", "crm": "done"}

    def statuses() -> dict[str, str] | None:
        query = "SELECT function, status FROM pmi_functions WHERE workflow_id = %s"
        found = dict(rows(business_db, query, wf))
        assert found["hr"] == "paused", found
        return found if found == paused_alone else None

    live.airflow.wait("the four other functions done, HR paused", statuses, 180, interval=0.5)
    assert wait_state(live, run_id, "hr.decision_1", ("awaiting_input",)) == "awaiting_input"
    answer(live, run_id, "hr.decision_1", "Skip")
    answer(live, run_id, "day30.review_r1", "Stop")
    assert live.airflow.wait_run(DAG, run_id, timeout=300) == "failed"
    comp = live.airflow.wait_run("saga_compensation", f"compensate__{wf}", timeout=300)
    assert comp == "success"

    assert row(business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf) == (
        "compensated",
        "rejected at day30_review_r1 by integration_lead: e2e",
    )
    assert row(business_db, "SELECT status FROM pmi_programs WHERE workflow_id = %s", wf) == ("rolled_back",)
    statuses = dict(
        rows(business_db, "SELECT function, status FROM pmi_functions WHERE workflow_id = %s", wf)
    )
    assert statuses == {
        "hr": "skipped",
        "finance": "separated",
        "it": "separated",
        "legal": "separated",
        "crm": "separated",
    }
    effects = once_each(live, request_id)
    undone = Counter(e["action"] for e in effects)
    assert undone["unlink_ledgers"] == undone["deprovision_accounts"] == undone["revoke_access"] == 1
    assert undone["revert_parent_change"] == undone["unmerge_customers"] == 1
    assert undone["transfer_employees"] == undone["revert_transfer"] == 0
    # Everyone affected told once (the message ids are the workflow's: derived from it and the recipient).
    affected = {
        r[0] for r in rows(business_db, "SELECT recipient FROM pmi_affected WHERE workflow_id = %s", wf)
    }
    assert len(affected) >= 4  # at least the controller, counsel, the deal's owner and the integration lead
    ids = {message_id(wf, "rollback_notice", to, "pmi_rolled_back"): to for to in affected}
    notices = Counter(
        ids[e["idempotency_key"]] for e in live.effects(system="email") if e["idempotency_key"] in ids
    )
    assert set(notices) == affected and set(notices.values()) == {1}
