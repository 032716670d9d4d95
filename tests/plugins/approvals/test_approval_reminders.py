"""Approval reminders and escalation (execution_plane.approvals.reminders, dags/approval_reminders.py) against
the business database, the sandbox's email provider and, for the gate, a real HITL request in dag.test().

The clock is compressed two ways: the scan takes the instant it runs at (``now``), so a 72-hour window is
walked through in seconds against a real parked gate; and the DAG run itself, on the real clock, sees an
approval whose window lasts seconds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.dagtest import Approve, Do, ScriptDriver

pytestmark = pytest.mark.timeout(120)

PROBE_DAG_ID = "ep_approval_reminder_probe"
PROBE_DAGS = Path(__file__).parent / "dags"
PROBE_BUNDLE = "ep-approvals-test"
MANAGER = "manager@execution-plane.example"
EXECUTIVE = "executive@execution-plane.example"


# ----------------------------------------------------------------------------- helpers
def approval_row(db: Any, workflow_id: str) -> dict[str, Any]:
    with db.cursor() as cur:
        cur.execute(
            "SELECT request_id, status, created_at, expires_at, remind_to, link, notified_message_id"
            " FROM approval_requests WHERE workflow_id = %s",
            (workflow_id,),
        )
        (row,) = cur.fetchall()
    keys = ("request_id", "status", "created_at", "expires_at", "remind_to", "link", "notified_message_id")
    return dict(zip(keys, row, strict=True))


def audit_actions(db: Any, workflow_id: str) -> list[tuple[str, dict[str, Any]]]:
    with db.cursor() as cur:
        cur.execute(
            "SELECT action, details FROM audit_log WHERE workflow_id = %s AND action LIKE 'approval.%%'"
            " ORDER BY id",
            (workflow_id,),
        )
        return [(action, details) for action, details in cur.fetchall()]


def scan(at: datetime, workflow_id: str, policy: Any = None) -> list[tuple[str, str]]:
    """One pass of the scan at ``at``; what it sent for this workflow (kind, recipient)."""
    from execution_plane.approvals.policy import parse_policy
    from execution_plane.approvals.reminders import send_due

    result = send_due(policy or parse_policy(MANAGERS_POLICY), now=at)
    return [(s["kind"], s["to"]) for s in result["sent"] if s["request_id"].startswith(workflow_id + ":")]


def emails_about(sandbox: Any, marker: str) -> list[dict[str, Any]]:
    return [
        e["payload"] for e in sandbox.effects(system="email") if marker in e["payload"].get("subject", "")
    ]


MANAGERS_POLICY = {"escalation": {"managers": {"manager": "executive"}, "fallback": "approvals-oversight"}}


@pytest.fixture(scope="module")
def probe() -> Iterator[Any]:
    """The probe DAG (tests/plugins/approvals/dags), written to the metadata database in a bundle of its own
    as the dag-processor would write it: dag.test() runs only serialized DAGs."""
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.dagbundle import DagBundleModel
    from airflow.utils.session import create_session

    from tests.support.workflow_runs import paused

    with create_session() as session:
        if session.get(DagBundleModel, PROBE_BUNDLE) is None:
            session.add(DagBundleModel(name=PROBE_BUNDLE))
    bag = DagBag(dag_folder=str(PROBE_DAGS), bundle_path=PROBE_DAGS, bundle_name=PROBE_BUNDLE)
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, PROBE_BUNDLE, None)
    with paused(PROBE_DAG_ID):
        yield bag.dags[PROBE_DAG_ID]


# ----------------------------------------------------------------------------- a real parked gate
def test_a_parked_gate_is_reminded_once_and_left_alone_once_answered(
    probe: Any, sandbox: Any, business_db: Any
) -> None:
    from execution_plane.saga import keys

    request_id = f"rem-{uuid.uuid4().hex[:10]}"
    workflow_id = keys.workflow_id(PROBE_DAG_ID, request_id)
    seen: dict[str, Any] = {}

    def while_parked() -> None:
        row = approval_row(business_db, workflow_id)
        opened = row["created_at"]
        seen["row"] = row
        seen["scans"] = [
            (hours, scan(opened + timedelta(hours=hours), workflow_id)) for hours in (30, 36.01, 36.01, 40)
        ]

    driver = ScriptDriver(
        PROBE_DAG_ID,
        [Do("review", while_parked, states=("awaiting_input",)), Approve("review", "manager", comment="ok")],
        request_id=request_id,
    ).start()
    try:
        dr = probe.test(run_conf={"request_id": request_id})
    finally:
        driver.stop()
    assert not driver.errors, driver.errors
    assert dr.state == "success"

    row = seen["row"]
    # The gate recorded the window and where to find the request: Airflow's Required Actions entry.
    assert row["remind_to"] == MANAGER
    assert row["expires_at"] - row["created_at"] == pytest.approx(
        timedelta(hours=72), abs=timedelta(seconds=5)
    )
    assert row["link"].endswith(
        f"/dags/{PROBE_DAG_ID}/runs/{dr.run_id}/tasks/review/required_actions?map_index=-1"
    )
    assert row["link"].startswith("http://127.0.0.1:")
    assert seen["scans"] == [(30, []), (36.01, [("half_time", MANAGER)]), (36.01, []), (40, [])]

    request, reminder = emails_about(sandbox, request_id)
    assert request["to"] == reminder["to"] == MANAGER
    assert request["subject"] == f"Approve reminder probe {request_id}"
    assert row["link"] in request["body"] and "A probe of the reminders." in request["body"]
    assert reminder["subject"] == f"Reminder: Approve reminder probe {request_id}"
    assert row["link"] in reminder["body"] and "36.0 h from now" in reminder["body"]

    # Answered: later moments of the window (the day before, overdue, expired) send nothing.
    opened = row["created_at"]
    for hours in (48.01, 54.01, 80):
        assert scan(opened + timedelta(hours=hours), workflow_id) == []
    assert len(emails_about(sandbox, request_id)) == 2
    actions = audit_actions(business_db, workflow_id)
    assert [a for a, _ in actions] == ["approval.requested", "approval.reminded", "approval.approved"]
    reminded = actions[1][1]
    assert reminded["kind"] == "half_time" and reminded["to"] == MANAGER
    assert reminded["request_id"] == row["request_id"] and reminded["message_id"]


# ----------------------------------------------------------------------------- the whole window, seeded
def open_approval(hours: float, assignee: str = "manager") -> tuple[str, str]:
    """A running workflow with an approval open for ``hours`` (recorded as a gate records it)."""
    from execution_plane.saga import keys
    from execution_plane.saga.steps import Saga

    request_id = f"rem-{uuid.uuid4().hex[:10]}"
    workflow_id = keys.workflow_id("ep_reminder_seed", request_id)
    with Saga(
        workflow_id=workflow_id,
        dag_id="ep_reminder_seed",
        run_id=f"seed__{request_id}",
        business_key=request_id,
    ) as saga:
        saga.register()
        approval = saga.record_approval_request(
            stage="sign_off",
            task_id="sign_off",
            assignees=[assignee, "admin"],
            subject=f"Sign off {request_id}",
            expires_at=datetime.now(UTC) + timedelta(hours=hours),
            link=f"http://airflow.example/dags/ep_reminder_seed/runs/seed__{request_id}/tasks/sign_off/"
            "required_actions?map_index=-1",
        )
    return workflow_id, approval


def test_each_reminder_and_the_escalation_are_sent_once_then_nothing_after_the_answer(
    sandbox: Any, business_db: Any
) -> None:
    from execution_plane.saga.steps import Saga

    workflow_id, request_id = open_approval(72)
    opened = approval_row(business_db, workflow_id)["created_at"]
    at = {hours: opened + timedelta(hours=hours) for hours in (36.01, 48.01, 50, 54.01, 60, 73)}
    assert scan(at[36.01], workflow_id) == [("half_time", MANAGER)]
    assert scan(at[48.01], workflow_id) == [("day_before", MANAGER)]
    assert scan(at[48.01], workflow_id) == []
    assert scan(at[50], workflow_id) == []
    assert scan(at[54.01], workflow_id) == [("escalation", EXECUTIVE)]
    assert scan(at[54.01], workflow_id) == []
    assert scan(at[60], workflow_id) == []
    assert scan(at[73], workflow_id) == []  # expired, not yet resolved by Airflow: escalated already

    business_key = workflow_id.split(":")[1]
    mails = emails_about(sandbox, business_key)
    assert [(m["subject"], m["to"]) for m in mails] == [
        (f"Reminder: Sign off {business_key}", MANAGER),
        (f"Reminder: Sign off {business_key}", MANAGER),
        (f"Overdue approval: Sign off {business_key}", EXECUTIVE),
    ]
    assert "24.0 h from now" in mails[1]["body"]
    assert "manager has not answered" in mails[2]["body"]
    link = approval_row(business_db, workflow_id)["link"]
    assert all(link in m["body"] for m in mails)

    with Saga.for_workflow(workflow_id, actor="test") as saga:
        assert saga.record_decision(request_id, status="approved", decided_by="manager", comment=None)
    assert scan(at[73] + timedelta(days=3), workflow_id) == []

    actions = audit_actions(business_db, workflow_id)
    assert [a for a, _ in actions] == [
        "approval.requested",
        "approval.reminded",
        "approval.reminded",
        "approval.escalated",
        "approval.approved",
    ]
    assert [d.get("kind") for _, d in actions[1:4]] == ["half_time", "day_before", "escalation"]
    assert actions[3][1]["to"] == EXECUTIVE and actions[3][1]["approver"] == "manager"
    # One ledger step per message: nothing can send the same (approval, kind) again.
    with business_db.cursor() as cur:
        cur.execute("SELECT step FROM saga_steps WHERE workflow_id = %s ORDER BY step", (workflow_id,))
        assert [r[0] for r in cur.fetchall()] == [
            "sign_off.approval_escalation",
            "sign_off.approval_reminder.day_before",
            "sign_off.approval_reminder.half_time",
        ]


def test_an_approver_without_a_manager_escalates_to_the_fallback_group(
    sandbox: Any, business_db: Any
) -> None:
    workflow_id, _ = open_approval(10, assignee="legal")
    opened = approval_row(business_db, workflow_id)["created_at"]
    assert scan(opened + timedelta(hours=8), workflow_id) == [
        ("half_time", "legal@execution-plane.example"),
        ("escalation", "approvals-oversight@execution-plane.example"),
    ]


def test_a_workflow_that_ended_with_its_approval_open_is_not_reminded(sandbox: Any, business_db: Any) -> None:
    from execution_plane.saga.steps import Saga

    workflow_id, _ = open_approval(72)
    with Saga.for_workflow(workflow_id, actor="test") as saga:
        saga.end("failed", "stopped by its parent")
    opened = approval_row(business_db, workflow_id)["created_at"]
    assert scan(opened + timedelta(hours=60), workflow_id) == []


# ----------------------------------------------------------------------------- the DAG, on the real clock
def test_the_dag_sends_what_is_due_now_once(
    sandbox: Any, business_db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The policy compressed through its Variable (an environment variable, as a secrets backend would give
    it): on a 10-minute window, a reminder 3 s in and overdue from 3.6 s. The run starts after that."""
    import json

    from execution_plane.approvals.reminders import load_policy, send_due
    from tests.support.workflow_runs import load_dag, paused

    policy = {
        "reminders": [
            {"kind": "soon", "at_fraction": 0.005},
            {"kind": "day_before", "hours_before_expiry": 24},
        ],
        "escalation": {"at_fraction": 0.006, "managers": {"manager": "executive"}},
    }
    monkeypatch.setenv("AIRFLOW_VAR_APPROVAL_REMINDERS", json.dumps(policy))
    workflow_id, _ = open_approval(10 / 60)
    time.sleep(4)
    dag = load_dag("approval_reminders")
    with paused("approval_reminders"):
        assert dag.test().state == "success"
    sent = [
        (action, details["kind"], details["to"])
        for action, details in audit_actions(business_db, workflow_id)
        if action in ("approval.reminded", "approval.escalated")
    ]
    # Both were due when the scan ran; the order they were written in is the scan's, not the policy's.
    assert sorted(sent) == [
        ("approval.escalated", "escalation", EXECUTIVE),
        ("approval.reminded", "soon", MANAGER),
    ]
    # The next run (the same function the task calls) sends nothing more for it.
    again = send_due(load_policy())
    assert [s for s in again["sent"] if s["request_id"].startswith(workflow_id + ":")] == []
    assert len(emails_about(sandbox, workflow_id.split(":")[1])) == 2


def test_a_malformed_policy_fails_the_scan_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    from execution_plane.approvals.policy import PolicyError
    from execution_plane.approvals.reminders import load_policy

    monkeypatch.setenv(
        "AIRFLOW_VAR_APPROVAL_REMINDERS", '{"reminders": [{"kind": "soon", "at_fraction": 2}]}'
    )
    with pytest.raises(PolicyError, match=r"reminders\.0\.at_fraction"):
        load_policy()
