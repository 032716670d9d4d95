"""The toolkit on a running Airflow: a message, an outside event, an approval, a rejection, compensation.

Driven only through public interfaces (REST API, sandbox controls that deliver signed webhooks to the
live webhook routes); checked against the sandbox's effect log and the business tables.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

pytestmark = [pytest.mark.live, pytest.mark.timeout(600)]

DAG = "toolkit_probe"


def iso(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def workflow_status(business_db: Any, workflow_id: str) -> str | None:
    with business_db.cursor() as cur:
        cur.execute("SELECT status FROM saga_workflows WHERE workflow_id = %s", (workflow_id,))
        row = cur.fetchone()
    return row[0] if row else None


def go_event(live: Any, request_id: str) -> dict[str, Any]:
    """The outside system answers: signed webhook -> /webhooks/events/partner -> inbox -> NOTIFY."""
    return live.sandbox(
        "POST",
        "/_sandbox/events",
        json={
            "source": "partner",
            "event_id": f"go-{request_id}",
            "type": "probe.go",
            "correlation_key": f"toolkit_probe:{request_id}",
            "payload": {},
        },
    )


def start(live: Any) -> tuple[str, str]:
    request_id = f"probe-{uuid.uuid4().hex[:10]}"
    run_id = f"e2e__{request_id}"
    resp = live.airflow.trigger(
        DAG, run_id, {"request_id": request_id, "recipient": f"{request_id}@example.com"}
    )
    assert resp.status_code == 200, resp.text
    return request_id, run_id


def test_rejected_run_is_compensated_each_effect_once(live: Any, business_db: Any) -> None:
    af = live.airflow
    request_id, run_id = start(live)
    workflow_id = f"{DAG}:{request_id}"
    af.wait_task_state(DAG, run_id, "wait_for_go", ("deferred",))
    sent_at = time.time()
    delivery = go_event(live, request_id)
    assert any(d.get("status_code") == 202 for d in delivery.get("deliveries", [delivery])), delivery
    af.wait_task_state(DAG, run_id, "wait_for_go", ("success",))
    wait_ti = af.task_instance(DAG, run_id, "wait_for_go")
    # The wait started and ended in the triggerer: no worker ever ran it.
    assert wait_ti["hostname"] in ("", None) or wait_ti["try_number"] <= 1
    print(f"\nwebhook accepted -> wait ended: {iso(wait_ti['end_date']) - sent_at:.3f} s")

    af.wait_task_state(DAG, run_id, "review", ("awaiting_input",))
    time.sleep(1.5)
    answered_at = time.time()
    resp = af.answer(DAG, run_id, "review", "Reject", user="manager", comment="not this time")
    assert resp.status_code == 200, resp.text
    # A second answer is refused by Airflow and changes nothing.
    assert af.answer(DAG, run_id, "review", "Approve", user="manager").status_code == 409
    assert af.wait_run(DAG, run_id) == "failed"
    next_ti = af.task_instance(DAG, run_id, "review_not_approved")
    print(f"approval answer -> next task started: {iso(next_ti['start_date']) - answered_at:.3f} s")

    comp_run = f"compensate__{workflow_id}"
    assert af.wait_run("saga_compensation", comp_run) == "success"
    assert workflow_status(business_db, workflow_id) == "compensated"
    note = af.run(DAG, run_id).get("note") or ""
    assert note.startswith("REJECTED: rejected at review by manager: not this time"), note

    mine = [e for e in live.effects(system="email") if request_id in str(e)]
    counts = Counter((e["action"], e["payload"].get("to"), e["payload"].get("subject")) for e in mine)
    assert counts == {
        ("send", f"{request_id}@example.com", "Hello"): 1,
        ("send", f"{request_id}@example.com", "Cancelled"): 1,
    }, counts
    # Starting the compensation again is a 409, and a rerun of it changes nothing.
    again = af.trigger("saga_compensation", comp_run, {"workflow_id": workflow_id, "reason": "again"})
    assert again.status_code == 409


def test_instant_machine_answer_still_succeeds(live: Any, business_db: Any) -> None:
    """Airflow 3.3.2 fails a HITL task answered within ~1 s of waiting; the gate's guard recovers it."""
    af = live.airflow
    request_id, run_id = start(live)
    af.wait_task_state(DAG, run_id, "wait_for_go", ("deferred",))
    go_event(live, request_id)
    af.wait_task_state(DAG, run_id, "review", ("awaiting_input",), timeout=120)
    resp = af.answer(DAG, run_id, "review", "Approve", user="manager", comment="instant")
    assert resp.status_code == 200, resp.text
    assert af.wait_run(DAG, run_id) == "success"
    review = af.task_instance(DAG, run_id, "review")
    print(f"\ninstant answer: review succeeded on try {review['try_number']}")
    assert workflow_status(business_db, f"{DAG}:{request_id}") == "completed"
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT status, decided_by, comment FROM approval_requests WHERE workflow_id = %s",
            (f"{DAG}:{request_id}",),
        )
        assert cur.fetchall() == [("approved", "manager", "instant")]


def test_answer_survives_the_same_try_running_again(live: Any, business_db: Any) -> None:
    """After a scheduler crash Airflow 3.3.2 can run a task the dead scheduler had queued a second time,
    same try number (seen in the chaos suite: two executions in one attempt log). The second execution's
    HITL upsert erases an answer given to the first, so the gate must find it before asking again.

    Reproduced deterministically: the triggerer is down (nothing picks the answer up), the gate is answered,
    then its task instance is put back to `scheduled` as the orphan reset does."""
    from tests.e2e.conftest import meta_db_cursor

    af = live.airflow
    request_id, run_id = start(live)
    af.wait_task_state(DAG, run_id, "wait_for_go", ("deferred",))
    go_event(live, request_id)
    af.wait_task_state(DAG, run_id, "review", ("awaiting_input",), timeout=120)
    live.stack.kill("triggerer")
    try:
        time.sleep(1.2)
        resp = af.answer(DAG, run_id, "review", "Approve", user="manager", comment="given once")
        assert resp.status_code == 200, resp.text
        with meta_db_cursor() as cur:
            cur.execute(
                "UPDATE task_instance SET state = 'scheduled', trigger_id = NULL, next_method = NULL,"
                " next_kwargs = NULL WHERE dag_id = %s AND run_id = %s AND task_id = 'review'"
                " RETURNING try_number",
                (DAG, run_id),
            )
            assert cur.fetchall() == [(1,)]
        assert af.wait_run(DAG, run_id, timeout=180) == "success"  # not asked again
    finally:
        live.stack.start_component("triggerer")
    assert af.task_instance(DAG, run_id, "review")["try_number"] == 1
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT status, decided_by, comment FROM approval_requests WHERE workflow_id = %s",
            (f"{DAG}:{request_id}",),
        )
        assert cur.fetchall() == [("approved", "manager", "given once")]


def test_wrong_user_and_unknown_option_are_refused(live: Any) -> None:
    af = live.airflow
    request_id, run_id = start(live)
    af.wait_task_state(DAG, run_id, "wait_for_go", ("deferred",))
    go_event(live, request_id)
    af.wait_task_state(DAG, run_id, "review", ("awaiting_input",))
    assert af.answer(DAG, run_id, "review", "Approve", user="legal").status_code == 403
    assert af.answer(DAG, run_id, "review", "Maybe", user="manager").status_code in (400, 422)
    assert af.task_states(DAG, run_id)["review"] == "awaiting_input"
    time.sleep(1.2)
    assert af.answer(DAG, run_id, "review", "Approve", user="manager").status_code == 200
    assert af.wait_run(DAG, run_id) == "success"


def test_reconciler_compensates_a_lost_failure_callback(live: Any, business_db: Any) -> None:
    af = live.airflow
    dag_id = "toolkit_probe_no_callback"
    request_id = f"lost-{uuid.uuid4().hex[:10]}"
    run_id = f"e2e__{request_id}"
    workflow_id = f"{dag_id}:{request_id}"
    assert (
        af.trigger(
            dag_id, run_id, {"request_id": request_id, "recipient": f"{request_id}@example.com"}
        ).status_code
        == 200
    )
    assert af.wait_run(dag_id, run_id) == "failed"
    assert workflow_status(business_db, workflow_id) == "running"  # nobody started compensation
    time.sleep(3.5)  # the reconciler's grace period in the live stack (EP_RECONCILER_GRACE_S)
    reconcile_run = f"e2e__reconcile__{request_id}"
    assert af.trigger("saga_reconciler", reconcile_run, {}).status_code == 200
    assert af.wait_run("saga_reconciler", reconcile_run) == "success"
    assert af.wait_run("saga_compensation", f"compensate__{workflow_id}") == "success"
    assert workflow_status(business_db, workflow_id) == "compensated"
    cancelled = [
        e
        for e in live.effects(system="email")
        if e["payload"].get("to") == f"{request_id}@example.com"
        and e["payload"].get("subject") == "Cancelled"
    ]
    assert len(cancelled) == 1
