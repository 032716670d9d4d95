"""Canary of ``execution_plane.compat.hitl_early_answer`` (apache/airflow#71580, #72716; PR #53824).

Airflow's own scheduler loop, a worker (task runner + Execution API) and the public REST API run in this
process against the test metadata DB, one step at a time, so each test forces the interleaving it is about:
the worker parks the approval and exits, the person answers, and the scheduler reads the worker's exit
before or after it queued the answered task again. The first tests run Airflow's own ``ApprovalOperator``
(no code of ours) and fail the day Airflow fixes the bug; the last ones run the project's gate.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.utils.state import TaskInstanceState

from execution_plane.compat.hitl_early_answer import earlier_answer, logged_answer
from execution_plane.saga.airflow_api import AirflowApi
from tests.plugins.compat import airflow_support as support
from tests.plugins.compat.airflow_support import ApiServer, Scheduler

PLAIN, GATE, TASK = "compat_hitl_plain", "compat_hitl_gate", "approve"


def park(scheduler: Scheduler, dags: dict[str, Any], dag_id: str, run_id: str) -> Any:
    """The scheduler queues the approval, a worker runs it until it waits for input; returns the workload.
    The worker's exit is reported to the executor but the scheduler has not read it yet."""
    scheduler.loop()
    workload = scheduler.executor.workload(run_id, TASK)
    assert support.run_workload(workload, dags[dag_id].get_task(TASK)) == TaskInstanceState.AWAITING_INPUT
    scheduler.executor.worker_exited(workload.key, TaskInstanceState.SUCCESS)
    return workload


def detail(api: ApiServer, dag_id: str, run_id: str, try_number: int | None = None) -> Any:
    path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{TASK}/-1/hitlDetails"
    return api.request("GET", path + (f"/tries/{try_number}" if try_number else ""), user="admin")


def test_premise_the_local_executor_reports_like_the_hand_off_executor() -> None:
    """The scheduler asks LocalExecutor the same questions it asks the test's executor (BaseExecutor's)."""
    assert support.local_executor_keeps_base_bookkeeping()


# ----------------------------------------------------------------------------- plain Airflow: the bug
def test_airflow_fails_an_approval_answered_before_the_scheduler_saw_its_worker_exit(
    scheduler: Scheduler, canary_dags: dict[str, Any], airflow_api: ApiServer
) -> None:
    run_id = scheduler.start_run(PLAIN)
    park(scheduler, canary_dags, PLAIN, run_id)
    assert airflow_api.answer(PLAIN, run_id, TASK, "Approve", user="manager").status_code == 200
    assert scheduler.ti(PLAIN, run_id, TASK).state == TaskInstanceState.SCHEDULED

    # Queue the answered task again, hand it to a worker, then read the first worker's exit.
    scheduler.loop()

    ti = scheduler.ti(PLAIN, run_id, TASK)
    assert (ti.state, ti.try_number) == (TaskInstanceState.UP_FOR_RETRY, 1), (
        "Airflow no longer fails an approval answered before the scheduler read its worker's exit "
        "(apache/airflow#71580, #72716 fixed?): execution_plane.compat.hitl_early_answer may go"
    )


def test_airflow_resumes_it_when_the_scheduler_saw_the_worker_exit_first(
    scheduler: Scheduler, canary_dags: dict[str, Any], airflow_api: ApiServer
) -> None:
    """The same steps with a slower person: only the order makes the difference."""
    run_id = scheduler.start_run(PLAIN)
    park(scheduler, canary_dags, PLAIN, run_id)
    scheduler.loop()  # the worker's exit is read while the task waits for input: nothing happens
    assert scheduler.ti(PLAIN, run_id, TASK).state == TaskInstanceState.AWAITING_INPUT
    assert airflow_api.answer(PLAIN, run_id, TASK, "Approve", user="manager").status_code == 200

    scheduler.loop()
    resumed = scheduler.executor.workload(run_id, TASK)
    assert resumed.ti.try_number == 1
    state = support.run_workload(resumed, canary_dags[PLAIN].get_task(TASK))

    assert state == TaskInstanceState.SUCCESS


def test_the_retry_erases_the_answer_and_no_earlier_try_keeps_it(
    scheduler: Scheduler, canary_dags: dict[str, Any], airflow_api: ApiServer
) -> None:
    run_id = scheduler.start_run(PLAIN)
    park(scheduler, canary_dags, PLAIN, run_id)
    assert airflow_api.answer(PLAIN, run_id, TASK, "Approve", user="manager").status_code == 200
    scheduler.loop()  # try 1 is failed, as in the first test
    scheduler.loop()  # try 2 queued and handed to a worker
    retry = scheduler.executor.workload(run_id, TASK)
    assert retry.ti.try_number == 2
    assert support.run_workload(retry, canary_dags[PLAIN].get_task(TASK)) == TaskInstanceState.AWAITING_INPUT

    current, first_try = detail(airflow_api, PLAIN, run_id), detail(airflow_api, PLAIN, run_id, 1)
    assert current.status_code == 200 and current.json()["response_received"] is False
    assert first_try.status_code == 404 or first_try.json()["response_received"] is False, (
        "Airflow keeps the answer of the failed try: the event-log fallback of "
        "execution_plane.compat.hitl_early_answer may go"
    )
    # Where it survives: the PATCH route's event log entry.
    logged = airflow_api.request(
        "GET", "/eventLogs", params={"run_id": run_id, "event": "update_hitl_detail"}, user="admin"
    ).json()["event_logs"]
    assert [(e["owner"], e["task_id"]) for e in logged] == [("manager", TASK)]


# ----------------------------------------------------------------------------- the workaround
@pytest.fixture
def gate_api(airflow_api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiServer]:
    """Tasks reach the REST API through ``airflow_api`` with the project's service user, as deployed."""
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", airflow_api.connection_env("ep_service"))
    yield airflow_api


def decision(business_db: Any, request_id: str) -> tuple[str, str | None, str | None]:
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT status, decided_by, comment FROM approval_requests WHERE workflow_id = %s",
            (f"{GATE}:{request_id}",),
        )
        rows = cur.fetchall()
    assert len(rows) == 1, rows
    status, decided_by, comment = rows[0]
    return status, decided_by, comment


def test_the_gate_completes_its_retry_with_the_answer_airflow_erased(
    scheduler: Scheduler, canary_dags: dict[str, Any], gate_api: ApiServer, business_db: Any
) -> None:
    request_id = f"canary-{uuid.uuid4().hex[:10]}"
    run_id = scheduler.start_run(GATE, {"request_id": request_id})
    park(scheduler, canary_dags, GATE, run_id)
    # Refused attempts are logged too, before the accepted answer: the gate must not take them.
    assert gate_api.answer(GATE, run_id, TASK, "Reject", user="legal").status_code == 403
    assert gate_api.answer(GATE, run_id, TASK, "Maybe", user="manager").status_code in (400, 422)
    assert gate_api.answer(GATE, run_id, TASK, "Approve", user="manager").status_code == 200
    scheduler.loop()
    assert scheduler.ti(GATE, run_id, TASK).state == TaskInstanceState.UP_FOR_RETRY  # the bug, on our gate

    scheduler.loop()
    retry = scheduler.executor.workload(run_id, TASK)
    assert retry.ti.try_number == 2
    state = support.run_workload(retry, canary_dags[GATE].get_task(TASK))

    assert state == TaskInstanceState.SUCCESS  # completed with the answer, not waiting again
    assert decision(business_db, request_id) == ("approved", "manager", "Approve by manager")
    scheduler.loop()  # the branch: "approved" (an EmptyOperator: no worker) succeeds, "rejected" is skipped
    scheduler.loop()  # the run's state follows its finished tasks
    assert scheduler.task_states(GATE, run_id) == {
        "approve": "success",
        "approved": "success",
        "rejected": "skipped",
    }
    assert scheduler.run_state(GATE, run_id) == "success"


def request_again(ti_id: Any) -> None:
    """What a second execution of the same try asks first: the Execution API's HITL upsert (the route
    ``HITLOperator.execute`` calls), which clears a stored response."""
    from airflow.api_fastapi.execution_api.datamodels.hitl import HITLDetailRequest
    from airflow.api_fastapi.execution_api.routes.hitl import upsert_hitl_detail
    from airflow.utils.session import create_session

    with create_session() as session:
        upsert_hitl_detail(
            ti_id, HITLDetailRequest(ti_id=ti_id, options=["Approve", "Reject"], subject="c"), session
        )


@pytest.mark.parametrize("erased", [False, True], ids=["answer-on-the-detail", "erased-by-the-second-run"])
def test_an_answer_to_an_earlier_run_of_the_same_try_is_found(
    scheduler: Scheduler, canary_dags: dict[str, Any], gate_api: ApiServer, erased: bool
) -> None:
    """Case 3 (a crashed scheduler's task run twice in one try): the request was opened before this
    execution started, so the current try's own detail, then the event log, are read."""
    run_id = scheduler.start_run(PLAIN)
    opened_at = datetime.now(UTC)
    park(scheduler, canary_dags, PLAIN, run_id)
    assert gate_api.answer(PLAIN, run_id, TASK, "Approve", user="manager").status_code == 200
    ti = scheduler.ti(PLAIN, run_id, TASK)
    assert ti.try_number == 1
    if erased:
        request_again(ti.id)
        assert detail(gate_api, PLAIN, run_id).json()["response_received"] is False

    answer = earlier_answer(
        {"ti": ti},
        opened_at=opened_at,
        started=datetime.now(UTC),
        assignees=["manager"],
        options=["Approve", "Reject"],
        api=AirflowApi(),
    )

    assert answer is not None
    assert answer["chosen_options"] == ["Approve"]
    assert answer["responded_by_user"] == {"id": "manager", "name": "manager"}
    assert answer["timedout"] is False


class NoApi:
    """An answer source that must not be asked."""

    def hitl_detail_of_try(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("asked Airflow on a first execution")

    def event_logs(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("asked Airflow on a first execution")


def test_a_first_execution_of_a_first_try_asks_nobody() -> None:
    now = datetime.now(UTC)
    ti = type("Ti", (), {"try_number": 1, "dag_id": "d", "run_id": "r", "task_id": "t", "map_index": -1})

    assert (
        earlier_answer({"ti": ti}, opened_at=now, started=now, assignees=["m"], options=["A"], api=NoApi())
        is None
    )


def logged(when: str = "2026-12-01T10:00:05Z", owner: str = "manager", extra: str | None = None) -> Any:
    """An event-log entry as ``GET /eventLogs`` returns it for a PATCH .../hitlDetails."""
    return {"when": when, "owner": owner, "extra": extra or '{"chosen_options": ["Approve"]}'}


@pytest.mark.parametrize(
    ("entry", "accepted"),
    [
        (logged(), True),
        (logged(when="2026-12-01T09:59:59Z"), False),
        (logged(owner="legal"), False),
        (logged(extra='{"chosen_options": ["Maybe"]}'), False),
        (logged(extra='{"chosen_options": []}'), False),
        (logged(extra="not json"), False),
    ],
    ids=["accepted", "before-the-request", "not-assigned", "unknown-option", "no-option", "unreadable"],
)
def test_only_an_answer_airflow_can_have_accepted_counts(entry: dict[str, Any], accepted: bool) -> None:
    opened_at = datetime(2026, 12, 1, 10, tzinfo=UTC)

    answer = logged_answer(entry, opened_at, assignees=["manager"], options=["Approve", "Reject"])

    assert (answer is not None) is accepted
    if answer is not None:
        assert answer["responded_at"] == opened_at + timedelta(seconds=5)
        assert answer["responded_by_user"] == {"id": "manager", "name": "manager"}
