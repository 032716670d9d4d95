"""partner_approval on a running Airflow, driven only through public interfaces.

Started by the CRM (signed webhook via the sandbox) or the REST API; approvals answered through the REST
API as the assigned users; the partner's answer delivered as a signed outside event via the sandbox.
Checked against the sandbox's effect log (shared by the whole live session: filtered to this request)
and the business tables.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any

import pytest

pytestmark = [pytest.mark.live, pytest.mark.timeout(600)]

DAG = "partner_approval"
PEOPLE_DELAY_S = 1.2  # people are never faster than a second (Airflow 3.3.2 early-answer failure)


def rows(db: Any, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall()


def approve(
    live: Any, run_id: str, task_id: str, user: str, option: str = "Approve", comment: str = ""
) -> float:
    """Wait for the approval, answer it as ``user``; returns how long the run waited for it to open."""
    af = live.airflow
    started = time.monotonic()
    af.wait_task_state(DAG, run_id, task_id, ("awaiting_input",), timeout=180)
    waited = time.monotonic() - started
    time.sleep(PEOPLE_DELAY_S)
    resp = af.answer(DAG, run_id, task_id, option, user=user, comment=comment)
    assert resp.status_code == 200, resp.text
    return waited


def partner_answers(
    live: Any, run_id: str, request_id: str, round_no: int, event_type: str, **payload: Any
) -> None:
    """The partner answers the terms: a signed outside event to /webhooks/events/partner, via the sandbox."""
    af = live.airflow
    # An early event is as good as a late one (the trigger reads the inbox first); answer like a partner.
    af.wait_task_state(DAG, run_id, f"round_{round_no}.partner_response", ("deferred",), timeout=180)
    delivery = live.sandbox(
        "POST",
        "/_sandbox/events",
        json={
            "source": "partner",
            "event_id": f"{request_id}-r{round_no}",
            "type": event_type,
            "correlation_key": f"partner_approval:{request_id}:round:{round_no}",
            "payload": payload,
        },
    )
    assert [d["status_code"] for d in delivery["deliveries"]] == [202], delivery


def mine(live: Any, request_id: str, shas: list[str]) -> list[dict[str, Any]]:
    """This request's effects: everything naming it (CRM, messages, keys) plus its documents."""
    return [e for e in live.effects() if request_id in json.dumps(e) or e.get("resource_id") in shas]


def counts(effects: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in effects)


def assert_each_once(effects: list[dict[str, Any]]) -> None:
    keyed = Counter((e["system"], e["action"], e["idempotency_key"]) for e in effects if e["idempotency_key"])
    assert max(keyed.values(), default=1) == 1, keyed


def sheet_shas(db: Any, workflow_id: str) -> list[str]:
    return [
        r[0]
        for r in rows(
            db, "SELECT sha256 FROM term_sheets WHERE workflow_id = %s ORDER BY revision", workflow_id
        )
    ]


def test_crm_started_happy_path_activates_once(live: Any, business_db: Any) -> None:
    af = live.airflow
    t0 = time.monotonic()
    request_id = f"pa-{uuid.uuid4().hex[:10]}"
    partner_id = f"P-{request_id}"
    workflow_id = f"{DAG}:{request_id}"
    event_id = f"crm-{request_id}"
    run_id = f"crm__{event_id}"

    # (a) The CRM starts the run; a redelivery of the same event starts nothing.
    event = {
        "event_id": event_id,
        "workflow": DAG,
        "payload": {"request_id": request_id, "partner_id": partner_id, "requested_by": "crm-user"},
    }
    first = live.sandbox("POST", "/_sandbox/crm/events", json=event)
    assert [d["status_code"] for d in first["deliveries"]] == [202], first  # {"status": "accepted"}
    again = live.sandbox("POST", "/_sandbox/crm/events", json=event)
    assert [d["status_code"] for d in again["deliveries"]] == [200], again  # {"status": "duplicate"}
    conf = af.wait_started(DAG, run_id)["conf"]
    assert conf["request_id"] == request_id and conf["partner_id"] == partner_id
    listed = af.request("GET", f"/dags/{DAG}/dagRuns", params={"limit": 100, "order_by": "-run_after"}).json()
    assert [
        r["dag_run_id"] for r in listed["dag_runs"] if (r.get("conf") or {}).get("request_id") == request_id
    ] == [run_id]
    started = time.monotonic() - t0

    # (b) People and the partner answer.
    marks = {"manager": approve(live, run_id, "manager_approval", "manager", comment="good fit")}
    marks["legal"] = approve(live, run_id, "round_1.legal_review", "legal", comment="clean")
    mark = time.monotonic()
    partner_answers(live, run_id, request_id, 1, "partner.accepted", note="agreed")
    marks["partner"] = time.monotonic() - mark
    marks["executive"] = approve(live, run_id, "executive_approval", "executive", comment="go")
    mark = time.monotonic()
    assert af.wait_run(DAG, run_id, timeout=180) == "success"
    marks["activation"] = time.monotonic() - mark
    wall = time.monotonic() - t0

    assert rows(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", workflow_id) == [
        ("completed",)
    ]
    assert rows(
        business_db, "SELECT status, stage FROM partner_approvals WHERE workflow_id = %s", workflow_id
    ) == [("activated", "activated")]
    assert rows(
        business_db,
        "SELECT stage, status, decided_by FROM approval_requests WHERE workflow_id = %s ORDER BY created_at",
        workflow_id,
    ) == [
        ("manager_approval", "approved", "manager"),
        ("legal_review_r1", "approved", "legal"),
        ("executive_approval", "approved", "executive"),
    ]
    effects = mine(live, request_id, sheet_shas(business_db, workflow_id))
    assert counts(effects) == {
        ("email", "send"): 5,
        ("whatsapp", "send"): 1,
        ("crm", "update_partner"): 3,
        ("docstore", "put_object"): 1,
    }, counts(effects)
    assert [e["payload"]["status"] for e in effects if e["system"] == "crm"] == [
        "in_review",
        "terms_sent",
        "active",
    ]
    assert_each_once(effects)
    print(
        f"\nCRM webhook -> run visible: {started:.1f} s; CRM start -> run success (4 answers): {wall:.1f} s"
    )
    print("  waited for: " + ", ".join(f"{k} {v:.1f} s" for k, v in marks.items()))


def test_legal_rejection_fails_the_run_and_is_compensated_once(live: Any, business_db: Any) -> None:
    af = live.airflow
    t0 = time.monotonic()
    request_id = f"pa-{uuid.uuid4().hex[:10]}"
    partner_id = f"P-{request_id}"
    workflow_id = f"{DAG}:{request_id}"
    run_id = f"e2e__{request_id}"
    resp = af.trigger(
        DAG,
        run_id,
        {
            "request_id": request_id,
            "partner_id": partner_id,
            "requested_by": "e2e",
            "max_negotiation_rounds": 2,
        },
    )
    assert resp.status_code == 200, resp.text

    approve(live, run_id, "manager_approval", "manager", comment="good fit")
    approve(live, run_id, "round_1.legal_review", "legal", "Reject", comment="liability cap missing")
    assert af.wait_run(DAG, run_id, timeout=180) == "failed"
    failed_at = time.monotonic() - t0
    reason = "rejected at legal_review_r1 by legal: liability cap missing"
    assert af.run(DAG, run_id).get("note") == f"REJECTED: {reason}"
    states = af.task_states(DAG, run_id)
    assert states["round_1.legal_review_not_approved"] == "failed"
    assert states["round_1.send_terms"] == "skipped"

    comp_run = f"compensate__{workflow_id}"
    assert af.wait_run("saga_compensation", comp_run, timeout=180) == "success"
    compensated_at = time.monotonic() - t0
    assert rows(
        business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", workflow_id
    ) == [("compensated", reason)]
    assert rows(
        business_db, "SELECT status, stage FROM partner_approvals WHERE workflow_id = %s", workflow_id
    ) == [("rejected", "legal_review")]
    assert rows(
        business_db, "SELECT revision, status FROM term_sheets WHERE workflow_id = %s", workflow_id
    ) == [(1, "retracted")]
    assert rows(
        business_db,
        "SELECT count(*) FROM saga_steps WHERE workflow_id = %s"
        " AND compensation_action IS NOT NULL AND status <> 'compensated'",
        workflow_id,
    ) == [(0,)]

    shas = sheet_shas(business_db, workflow_id)
    effects = mine(live, request_id, shas)
    # Two approval requests; the sheet stored and retracted; CRM in review then rejected; the partner,
    # never contacted, hears nothing.
    assert counts(effects) == {
        ("email", "send"): 2,
        ("crm", "update_partner"): 2,
        ("docstore", "put_object"): 1,
        ("docstore", "retract_object"): 1,
    }, counts(effects)
    assert [e["payload"]["status"] for e in effects if e["system"] == "crm"] == ["in_review", "rejected"]
    assert not [e for e in effects if e["payload"].get("to") == f"{partner_id}@partners.example"]
    assert_each_once(effects)

    # Asking again (the DAG's failure callback does; so would the reconciler) is a 409 and changes nothing.
    again = af.trigger(
        "saga_compensation",
        comp_run,
        {"workflow_id": workflow_id, "reason": "again", "bad_ending": "rejected"},
    )
    assert again.status_code == 409, again.text
    assert len(mine(live, request_id, shas)) == len(effects)
    print(f"\nREST start -> run failed: {failed_at:.1f} s; -> compensation success: {compensated_at:.1f} s")
