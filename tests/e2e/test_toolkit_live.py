"""The toolkit on a running Airflow: a message, an outside event, an approval, a rejection, compensation.

Driven only through public interfaces (REST API, sandbox controls that deliver signed webhooks to the
live webhook routes); checked against the sandbox's effect log and the business tables.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.live, pytest.mark.timeout(600)]

DAG = "toolkit_probe"
CONTROL_DAG = "toolkit_probe_resume_control"
MODULE_STARTED = time.time()


def iso(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def workflow_status(business_db: Any, workflow_id: str) -> str | None:
    with business_db.cursor() as cur:
        cur.execute("SELECT status FROM saga_workflows WHERE workflow_id = %s", (workflow_id,))
        row = cur.fetchone()
    return row[0] if row else None


def go_body(request_id: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id or f"go-{request_id}",
        "type": "probe.go",
        "correlation_key": f"toolkit_probe:{request_id}",
        "payload": {},
        "occurred_at": datetime.now(UTC).isoformat(),
    }


def xcom(af: Any, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
    resp = af.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}")
    resp.raise_for_status()
    value = resp.json()["value"]
    # The REST API returns the stored form: an XCom pushed by a task through the Execution API is stored as
    # JSON, one pushed with a trigger's end event (TaskInstance.xcom_push) as a JSON-encoded string.
    return json.loads(value) if isinstance(value, str) else value


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


# What a task instance's state changes leave in Airflow's event log (the `log` table, REST /eventLogs): the
# Execution API writes `running` when a worker starts the task (ti_run) and the new state when the worker
# reports one (ti_update_state: `deferred`, `success`, ...). A trigger that ends the task itself
# (TaskSuccessEvent -> handle_event_submit) sets the state without a row, and without queueing it again.
TI_STATE_EVENTS = frozenset(
    {"running", "deferred", "success", "failed", "up_for_retry", "up_for_reschedule", "skipped"}
)


def worker_events(af: Any, dag_id: str, run_id: str, task_id: str) -> list[tuple[str, int]]:
    """(event, try_number) of the task instance's state changes reported by workers, oldest first."""
    resp = af.request(
        "GET",
        "/eventLogs",
        params={
            "dag_id": dag_id,
            "run_id": run_id,
            "task_id": task_id,
            "order_by": "event_log_id",
            "limit": 100,
        },
    )
    resp.raise_for_status()
    return [(e["event"], e["try_number"]) for e in resp.json()["event_logs"] if e["event"] in TI_STATE_EVENTS]


def test_rejected_run_is_compensated_each_effect_once(live: Any, business_db: Any) -> None:
    af = live.airflow
    request_id, run_id = start(live)
    workflow_id = f"{DAG}:{request_id}"
    # The control: the same wait, same event, without end_task (resumed on a worker when the event comes).
    control_run = f"e2e__control__{request_id}"
    af.wait(
        "resume control DAG unpaused",
        lambda: af.request("PATCH", f"/dags/{CONTROL_DAG}", json={"is_paused": False}).status_code == 200,
    )
    assert af.trigger(CONTROL_DAG, control_run, {"request_id": request_id}).status_code == 200
    af.wait_task_state(DAG, run_id, "wait_for_go", ("deferred",))
    af.wait_task_state(CONTROL_DAG, control_run, "wait_for_go", ("deferred",))
    sent_at = time.time()
    delivery = live.post_event("partner", go_body(request_id))
    answered_at = time.time()
    # The ingress stored the event, then ended the registered wait itself before answering (the control's
    # wait, without end_task, is not registered: its trigger resumes it).
    assert (delivery.status_code, delivery.json()["ended_waits"]) == (202, 1), delivery.text
    wait_ti = af.task_instance(DAG, run_id, "wait_for_go")
    assert wait_ti["state"] == "success", wait_ti
    assert sent_at < iso(wait_ti["end_date"]) < answered_at, wait_ti
    assert xcom(af, DAG, run_id, "wait_for_go")["event"]["event_id"] == f"partner:go-{request_id}"
    af.wait_task_state(CONTROL_DAG, control_run, "wait_for_go", ("success",))
    control_ti = af.task_instance(CONTROL_DAG, control_run, "wait_for_go")
    # The wait was started by a worker, which deferred it; the ingress ended it: no worker ran it again, and
    # the scheduler never queued it again after the event (a worker resume needs both).
    assert worker_events(af, DAG, run_id, "wait_for_go") == [("running", 1), ("deferred", 1)]
    assert wait_ti["try_number"] == 1
    assert iso(wait_ti["scheduled_when"]) < sent_at and iso(wait_ti["queued_when"]) < sent_at, wait_ti
    assert iso(wait_ti["end_date"]) > sent_at, wait_ti
    # The same reading of the control shows the worker resume it would have shown.
    assert worker_events(af, CONTROL_DAG, control_run, "wait_for_go") == [
        ("running", 1),
        ("deferred", 1),
        ("running", 1),
        ("success", 1),
    ]
    assert control_ti["try_number"] == 1
    assert iso(control_ti["queued_when"]) > sent_at, control_ti
    print(
        f"\nwebhook sent -> wait ended: {iso(wait_ti['end_date']) - sent_at:.3f} s by the ingress, "
        f"{iso(control_ti['end_date']) - sent_at:.3f} s resumed on a worker"
    )

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
    # The approver was told of the request once (its link names the run), the partner greeted and told of
    # the cancellation once each.
    assert counts == {
        ("send", f"{request_id}@example.com", "Hello"): 1,
        ("send", "manager@execution-plane.example", "Probe review"): 1,
        ("send", f"{request_id}@example.com", "Cancelled"): 1,
    }, counts
    # Starting the compensation again is a 409, and a rerun of it changes nothing.
    again = af.trigger("saga_compensation", comp_run, {"workflow_id": workflow_id, "reason": "again"})
    assert again.status_code == 409


def test_trigger_ends_a_registered_wait_the_ingress_never_saw(live: Any, business_db: Any) -> None:
    """An event filed straight into the inbox (as a status poller files a lost webhook's) never passes the
    ingress: the wait's trigger hears its NOTIFY and ends the task, still without a worker. The same event
    delivered through the ingress afterwards is a duplicate that ends nothing and forgets the wait's row."""
    from execution_plane import inbox

    af = live.airflow
    request_id, run_id = start(live)
    af.wait_task_state(DAG, run_id, "wait_for_go", ("deferred",))
    registered = "SELECT task_id FROM event_waits WHERE dag_id = %s AND run_id = %s"
    with business_db.cursor() as cur:
        cur.execute(registered, (DAG, run_id))
        assert cur.fetchall() == [("wait_for_go",)]
        stored = inbox.insert_event(
            cur, f"partner:go-{request_id}", "partner", "probe.go", f"toolkit_probe:{request_id}", {}
        )
    assert stored
    af.wait_task_state(DAG, run_id, "wait_for_go", ("success",))
    assert worker_events(af, DAG, run_id, "wait_for_go") == [("running", 1), ("deferred", 1)]
    assert xcom(af, DAG, run_id, "wait_for_go")["event"]["event_id"] == f"partner:go-{request_id}"

    again = live.post_event("partner", go_body(request_id))
    assert (again.status_code, again.json()) == (
        202,
        {"status": "duplicate", "event_id": f"partner:go-{request_id}", "ended_waits": 0},
    ), again.text
    with business_db.cursor() as cur:
        cur.execute(registered, (DAG, run_id))
        assert cur.fetchall() == []
    af.wait_task_state(DAG, run_id, "review", ("awaiting_input",), timeout=120)
    time.sleep(1.2)
    assert af.answer(DAG, run_id, "review", "Approve", user="manager").status_code == 200
    assert af.wait_run(DAG, run_id) == "success"


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
        with live.meta_db_cursor() as cur:
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
    unknown = af.answer(DAG, run_id, "review", "Maybe", user="manager")
    assert unknown.status_code == 400, unknown.text  # Airflow's write-side check of chosen_options
    assert "Invalid options ['Maybe']" in unknown.json()["detail"], unknown.text
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
    assert workflow_status(business_db, workflow_id) == "running"  # its own run records no bad ending
    # The reconciler acts for a run failed longer ago than its grace (EP_RECONCILER_GRACE_S=3 live).
    failed_at = iso(af.run(dag_id, run_id)["end_date"])
    time.sleep(max(0.0, failed_at + 3.5 - time.time()))
    reconcile_run = f"e2e__reconcile__{request_id}"
    assert af.trigger("saga_reconciler", reconcile_run, {}).status_code == 200
    assert af.wait_run("saga_reconciler", reconcile_run) == "success"
    comp_run = f"compensate__{workflow_id}"
    assert af.wait_run("saga_compensation", comp_run) == "success"
    # Started by the reconciler as a lost callback, not by anything else.
    conf = af.run("saga_compensation", comp_run)["conf"]
    assert conf == {
        "workflow_id": workflow_id,
        "reason": f"run {run_id} failed; its failure callback did not start compensation",
        "bad_ending": "failed",
        "source": "reconciler",
    }, conf
    assert workflow_status(business_db, workflow_id) == "compensated"
    cancelled = [
        e
        for e in live.effects(system="email")
        if e["payload"].get("to") == f"{request_id}@example.com"
        and e["payload"].get("subject") == "Cancelled"
    ]
    assert len(cancelled) == 1


def test_task_log_files_hold_no_secret(live: Any) -> None:
    """The task log files the workers, the triggerer and the callbacks of this module's runs wrote (a
    dag.test() run writes none: tests/security scans its output) hold no secret of the stack: webhook HMAC
    secrets, approval token secret, JWT secret, Fernet key, passwords, and the passwords as Basic headers."""
    folder = Path(live.stack.setup.env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"])
    files = [
        f
        for pattern in (
            "dag_id=toolkit_probe*/**/*",
            "dag_id=saga_compensation/**/*",
            "dag_id=saga_reconciler/**/*",
        )
        for f in folder.glob(pattern)
        if f.is_file() and f.stat().st_mtime >= MODULE_STARTED
    ]
    texts = {f: f.read_text(errors="replace") for f in files}
    # What the scan reads is the tasks' own output: the probe's message step logged its idempotency key.
    assert any("idempotency key msg_" in t for f, t in texts.items() if "task_id=send_hello" in str(f)), files
    assert any("task_id=wait_for_go" in str(f) for f in files) and any("compensate" in str(f) for f in files)
    secrets: dict[str, str] = {}
    for name, value in dataclasses.asdict(live.stack.setup.secrets).items():
        for user, password in value.items() if isinstance(value, dict) else [(None, value)]:
            secrets[f"{name}.{user}" if user else name] = str(password)
            if user:
                secrets[f"{name}.{user} (Basic)"] = base64.b64encode(f"{user}:{password}".encode()).decode()
    assert {"webhook_events_secret", "approval_token_secret", "jwt_secret", "user_passwords.manager"} <= set(
        secrets
    )
    found = {
        (name, str(f.relative_to(folder)))
        for f, text in texts.items()
        for name, value in secrets.items()
        if len(value) >= 8 and (value in text or json.dumps(value)[1:-1] in text)
    }
    assert found == set(), found
