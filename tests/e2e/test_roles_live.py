"""People get only what their role needs (issue 15), on the shared live stack (tests/e2e's ``live``) running
the project's FAB auth manager (execution_plane.compat.fab_auth_manager).

Roles: approvers (``manager``, ``legal``, ...) read workflows and answer the approvals they are assigned,
nothing else; ops engineers (``ops``) trigger, clear and mark; analysts (``analyst``) read. Every forbidden
action is tried through the REST API as each role on a real ``partner_approval`` run parked at the manager's
approval: the answer is 403 and nothing changed (the run, each task's state, the approval's answer, the DAG's
pause flag, the DAG's runs). The allowed ones succeed, marking runs ``success`` included: Airflow 3.3.2
answered that with 500 "Database error" when the scheduler worked on the run at the same moment (a deadlock,
execution_plane.compat.mark_run_lock), so runs are marked in the first seconds after they are triggered,
when the scheduler is busiest with them.

Under Simple auth manager (Airflow's default) ``legal`` could mark the manager's gate ``success`` (200) and
start a partner_approval run (200); this module is skipped while the stacks run it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devtools import env as ep_env

pytestmark = [
    pytest.mark.live,
    pytest.mark.timeout(900),
    pytest.mark.skipif(not ep_env.uses_fab(), reason="the stack runs Simple auth manager: global roles only"),
]

DAG = "partner_approval"
GATE = "manager_approval"  # assigned to manager (dags/workflows/partner_approval/dag.py)
PEOPLE_DELAY_S = 1.2  # people are never faster than a second (Airflow 3.3.2 early-answer failure)


@dataclass
class Parked:
    live: Any
    run_id: str
    request_id: str

    @property
    def af(self) -> Any:
        return self.live.airflow

    def run_path(self) -> str:
        return f"/dags/{DAG}/dagRuns/{self.run_id}"

    def snapshot(self) -> dict[str, Any]:
        """Everything a forbidden request could have changed."""
        af = self.af
        detail = af.request("GET", f"{self.run_path()}/taskInstances/{GATE}/-1/hitlDetails").json()
        runs = af.request("GET", f"/dags/{DAG}/dagRuns", params={"limit": 1}).json()["total_entries"]
        return {
            "run": af.run(DAG, self.run_id)["state"],
            "tasks": af.task_states(DAG, self.run_id),
            "answer": (detail["response_received"], detail.get("chosen_options")),
            "paused": af.request("GET", f"/dags/{DAG}").json()["is_paused"],
            "runs": runs,
        }


def start(af: Any, user: str = "ops") -> tuple[str, str, Any]:
    request_id = f"roles-{uuid.uuid4().hex[:10]}"
    run_id = f"roles__{request_id}"
    resp = af.request(
        "POST",
        f"/dags/{DAG}/dagRuns",
        user=user,
        json={
            "dag_run_id": run_id,
            "logical_date": None,
            "conf": {"request_id": request_id, "partner_id": f"P-{request_id}", "requested_by": user},
        },
    )
    return run_id, request_id, resp


@pytest.fixture(scope="module")
def parked(live: Any) -> Iterator[Parked]:
    """A partner_approval run started by ops (an ops engineer may trigger), parked at the manager's gate."""
    af = live.airflow
    run_id, request_id, resp = start(af)
    assert resp.status_code == 200, resp.text
    assert resp.json()["triggering_user_name"] == "ops"
    af.wait_task_state(DAG, run_id, GATE, ("awaiting_input",), timeout=240)
    yield Parked(live, run_id, request_id)


def forbidden(parked: Parked) -> list[tuple[str, str, str, str, dict[str, Any] | None]]:
    """(who, what, method, path, body) of every action a role may not take."""
    run = parked.run_path()
    other_run = f"roles__forbidden-{uuid.uuid4().hex[:8]}"
    trigger = {
        "dag_run_id": other_run,
        "logical_date": None,
        "conf": {"request_id": other_run, "partner_id": "P-x", "requested_by": "x"},
    }
    clear = {"dry_run": False, "dag_run_id": parked.run_id, "task_ids": ["fit_score"], "only_failed": False}
    answer = {"chosen_options": ["Approve"], "params_input": {"comment": "not mine"}}
    hitl = f"{run}/taskInstances/{GATE}/-1/hitlDetails"
    actions: list[tuple[str, str, str, str, dict[str, Any] | None]] = []
    for approver in ("legal", "manager"):
        actions += [
            (
                approver,
                "marks the gate success",
                "PATCH",
                f"{run}/taskInstances/{GATE}",
                {"new_state": "success"},
            ),
            (approver, "fails a task", "PATCH", f"{run}/taskInstances/fit_score", {"new_state": "failed"}),
            (approver, "triggers a run", "POST", f"/dags/{DAG}/dagRuns", trigger),
            (approver, "marks the run success", "PATCH", run, {"state": "success"}),
            (approver, "marks the run failed", "PATCH", run, {"state": "failed"}),
            (approver, "clears a task", "POST", f"/dags/{DAG}/clearTaskInstances", clear),
            (approver, "pauses the DAG", "PATCH", f"/dags/{DAG}", {"is_paused": True}),
            (approver, "reads the connections", "GET", "/connections", None),
            (approver, "reads the variables", "GET", "/variables", None),
        ]
    actions += [
        ("legal", "answers the manager's approval", "PATCH", hitl, answer),
        ("analyst", "answers the manager's approval", "PATCH", hitl, answer),
        ("analyst", "triggers a run", "POST", f"/dags/{DAG}/dagRuns", trigger),
        ("analyst", "clears a task", "POST", f"/dags/{DAG}/clearTaskInstances", clear),
        (
            "analyst",
            "marks the gate success",
            "PATCH",
            f"{run}/taskInstances/{GATE}",
            {"new_state": "success"},
        ),
        ("analyst", "marks the run success", "PATCH", run, {"state": "success"}),
        ("analyst", "pauses the DAG", "PATCH", f"/dags/{DAG}", {"is_paused": True}),
        ("analyst", "reads the connections", "GET", "/connections", None),
        ("ops", "answers the manager's approval", "PATCH", hitl, answer),
        ("ops", "edits a connection", "PATCH", "/connections/crm_default", {"connection_id": "crm_default"}),
    ]
    return actions


def test_every_forbidden_action_is_refused_and_changes_nothing(parked: Parked) -> None:
    af = parked.af
    before = parked.snapshot()
    assert before["run"] == "running" and before["tasks"][GATE] == "awaiting_input"
    assert before["answer"] == (False, None) and before["paused"] is False
    answered = {}
    for user, what, method, path, body in forbidden(parked):
        resp = (
            af.request(method, path, user=user, json=body)
            if body is not None
            else af.request(method, path, user=user)
        )
        answered[f"{user} {what}"] = resp.status_code
    refused = {action: status for action, status in answered.items() if status != 403}
    assert not refused, refused
    assert parked.snapshot() == before
    # The gate still waits for the manager; the refused trigger left no run behind.
    assert (
        af.request("GET", f"/dags/{DAG}/dagRuns", params={"run_id_pattern": "roles__forbidden"}).json()[
            "total_entries"
        ]
        == 0
    )
    print(f"\n[roles] {len(answered)} forbidden actions, every one 403, nothing changed")


def test_the_refusal_of_another_persons_approval_names_the_rule(parked: Parked) -> None:
    resp = parked.af.answer(DAG, parked.run_id, GATE, "Approve", user="legal")
    assert resp.status_code == 403
    assert "User=legal" in resp.json()["detail"] and "not a respondent" in resp.json()["detail"]


def test_each_role_reads_what_it_needs(parked: Parked) -> None:
    af = parked.af
    for user in ("manager", "legal", "analyst", "ops"):
        assert af.request("GET", parked.run_path(), user=user).status_code == 200, user
        hitl = af.request("GET", f"{parked.run_path()}/taskInstances/{GATE}/-1/hitlDetails", user=user)
        assert hitl.status_code == 200, user
    # The Required Actions page's list: the manager sees the request waiting for them.
    waiting = af.request(
        "GET",
        "/dags/~/dagRuns/~/hitlDetails",
        user="manager",
        params={"dag_id": DAG, "response_received": False, "limit": 100},
    )
    assert waiting.status_code == 200, waiting.text
    mine = [d for d in waiting.json()["hitl_details"] if d["task_instance"]["dag_run_id"] == parked.run_id]
    assert len(mine) == 1 and {"id": "manager", "name": "manager"} in mine[0]["assigned_users"]
    assert "legal" not in {user["name"] for user in mine[0]["assigned_users"]}
    # Logs and XComs: analysts and ops read them, approvers need not.
    logs = f"{parked.run_path()}/taskInstances/fit_score/logs/1"
    assert af.request("GET", logs, user="analyst").status_code == 200
    assert af.request("GET", logs, user="manager").status_code == 403


def test_approvers_answer_their_own_approvals_recorded_by_username(parked: Parked, business_db: Any) -> None:
    af = parked.af
    time.sleep(PEOPLE_DELAY_S)
    resp = af.answer(DAG, parked.run_id, GATE, "Approve", user="manager", comment="fits")
    assert resp.status_code == 200, resp.text
    assert resp.json()["responded_by"]["name"] == "manager"
    af.wait_task_state(DAG, parked.run_id, "round_1.legal_review", ("awaiting_input",), timeout=240)
    time.sleep(PEOPLE_DELAY_S)
    assert af.answer(DAG, parked.run_id, "round_1.legal_review", "Approve", user="legal").status_code == 200
    af.wait_task_state(DAG, parked.run_id, "round_1.partner_response", ("deferred",), timeout=240)
    workflow_id = f"{DAG}:{parked.request_id}"
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT stage, status, decided_by FROM approval_requests WHERE workflow_id = %s"
            " ORDER BY created_at",
            (workflow_id,),
        )
        assert cur.fetchall() == [
            ("manager_approval", "approved", "manager"),
            ("legal_review_r1", "approved", "legal"),
        ]


def test_ops_trigger_clear_and_mark_without_a_500(parked: Parked) -> None:
    af = parked.af
    # Clear (the authorization is the real clear's; a dry run changes nothing in the parked run).
    cleared = af.request(
        "POST",
        f"/dags/{DAG}/clearTaskInstances",
        user="ops",
        json={"dry_run": True, "dag_run_id": parked.run_id, "task_ids": ["fit_score"], "only_failed": False},
    )
    assert cleared.status_code == 200, cleared.text
    assert [ti["task_id"] for ti in cleared.json()["task_instances"]] == ["fit_score"]
    # Mark: runs marked success while the scheduler works on them, the moment that deadlocked (500).
    marked: dict[str, int] = {}
    runs = []
    for delay in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0):
        run_id, _, resp = start(af)
        assert resp.status_code == 200, resp.text
        time.sleep(delay)
        marked[f"{delay}s"] = af.request(
            "PATCH", f"/dags/{DAG}/dagRuns/{run_id}", user="ops", json={"state": "success"}
        ).status_code
        runs.append(run_id)
    assert set(marked.values()) == {200}, marked
    assert {af.run(DAG, run_id)["state"] for run_id in runs} == {"success"}
    # A task instance marked by ops, and the parked run ended by ops (its failure starts compensation).
    ti = af.request(
        "PATCH",
        f"{parked.run_path()}/taskInstances/round_1.partner_response",
        user="ops",
        json={"new_state": "failed"},
    )
    assert ti.status_code == 200, ti.text
    ended = af.request("PATCH", parked.run_path(), user="ops", json={"state": "failed"})
    assert ended.status_code == 200, ended.text
    assert af.run(DAG, parked.run_id)["state"] == "failed"
    print(f"\n[roles] ops marked {len(marked)} runs success within 0.5-3 s of their start: {marked}")
