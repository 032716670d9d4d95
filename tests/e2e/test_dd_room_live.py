"""dd_room on a running Airflow: started through the CRM webhook; the five workstream leads sign off and
the IC answers through the REST API as the assigned users. Happy path and an IC rejection (compensated),
checked against the sandbox's effect log and the business tables."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

import pytest

pytestmark = [pytest.mark.live, pytest.mark.timeout(900)]

DAG = "dd_room"
WORKSTREAMS = ("financial", "legal", "technical", "product", "security")


def start_from_crm(live: Any, request_id: str) -> str:
    event_id = f"crm-{request_id}"
    payload = {
        "request_id": request_id,
        "deal_id": f"deal-{request_id}",
        "target_company": "Acme Robotics",
        "target_contact_email": f"{request_id}@target.example",
        "base_valuation_usd": 25_000_000,
    }
    result = live.sandbox(
        "POST", "/_sandbox/crm/events", json={"event_id": event_id, "workflow": DAG, "payload": payload}
    )
    assert [d["status_code"] for d in result["deliveries"]] == [202], result
    live.airflow.wait_started(DAG, f"crm__{event_id}")
    return f"crm__{event_id}"


def answer_when_waiting(live: Any, run_id: str, task_id: str, option: str, user: str) -> None:
    af = live.airflow
    af.wait_task_state(DAG, run_id, task_id, ("awaiting_input",), timeout=300)
    time.sleep(1.2)  # people are not faster than that (Airflow 3.3.2 early-answer failure)
    resp = af.answer(DAG, run_id, task_id, option, user=user, comment="e2e")
    assert resp.status_code == 200, resp.text


def sign_off_all(live: Any, run_id: str) -> None:
    for workstream in WORKSTREAMS:
        answer_when_waiting(live, run_id, f"{workstream}.lead_signoff", "Approve", "dd_lead")


def status(business_db: Any, request_id: str) -> tuple[str, str]:
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT w.status, r.status FROM saga_workflows w JOIN dd_rooms r USING (workflow_id)"
            " WHERE workflow_id = %s",
            (f"{DAG}:{request_id}",),
        )
        return cur.fetchone()


def sent_once(live: Any, request_id: str) -> None:
    mine = [e for e in live.effects() if request_id in str(e)]
    assert mine
    per_key = Counter((e["system"], e["action"], e.get("idempotency_key")) for e in mine)
    assert all(n == 1 for n in per_key.values()), per_key


def test_happy_path_closes(live: Any, business_db: Any) -> None:
    request_id = f"ddl-{uuid.uuid4().hex[:8]}"
    run_id = start_from_crm(live, request_id)
    sign_off_all(live, run_id)
    answer_when_waiting(live, run_id, "ic_review", "Approve", "ic_member")
    assert live.airflow.wait_run(DAG, run_id, timeout=300) == "success"
    assert status(business_db, request_id) == ("completed", "closing")
    sent_once(live, request_id)


def test_ic_rejection_is_compensated(live: Any, business_db: Any) -> None:
    request_id = f"ddl-{uuid.uuid4().hex[:8]}"
    run_id = start_from_crm(live, request_id)
    sign_off_all(live, run_id)
    answer_when_waiting(live, run_id, "ic_review", "Reject", "ic_member")
    assert live.airflow.wait_run(DAG, run_id, timeout=300) == "failed"
    comp = live.airflow.wait_run("saga_compensation", f"compensate__{DAG}:{request_id}", timeout=300)
    assert comp == "success"
    assert status(business_db, request_id) == ("compensated", "archived")
    with business_db.cursor() as cur:
        cur.execute("SELECT count(*) FROM lessons_learned WHERE workflow_id = %s", (f"{DAG}:{request_id}",))
        assert cur.fetchone() == (1,)
    sent_once(live, request_id)
