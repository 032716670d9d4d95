"""The DAG authoring helpers (execution_plane.durable): params, gates with their endings, choices, routed
steps, and the DAG factory's defaults. Graph-level behaviour runs in tests/dags through dag.test()."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import DAG, TaskGroup
from airflow.sdk.definitions.param import ParamValidationError

from execution_plane.durable import (
    CRM_STARTABLE_TAG,
    approval,
    body_of,
    choice,
    durable_workflow,
    id_param,
    routed_step,
    routes,
    step,
    timeout_hours_param,
)
from execution_plane.durable.steps import RoutedStepOperator
from execution_plane.durable.workflow import compensation_callback
from execution_plane.saga import keys
from execution_plane.webhooks.workflows import DagId


# ----------------------------------------------------------------------------- params
def test_id_param_accepts_crm_ids_only() -> None:
    param = id_param("CRM deal id")
    assert param.description == "CRM deal id"
    assert param.schema == {"type": "string", "pattern": keys.ID_PATTERN}
    assert param.resolve("D-1001.a_b") == "D-1001.a_b"
    for bad in ("", "a b", "x" * 65, "a/b", "a:b", "a..b"):
        with pytest.raises(ParamValidationError):
            param.resolve(bad)


@pytest.mark.parametrize(
    "value", ["D-1001.a_b", "x" * 64, "a", "", "a b", "x" * 65, "a/b", "a:b", "a..b", ".."]
)
def test_the_webhooks_id_type_accepts_what_the_dags_accept(value: str) -> None:
    """The CRM ingress validates ids with its own (Airflow-free) type: it agrees with the DAG param."""
    from pydantic import TypeAdapter, ValidationError

    try:
        id_param("x").resolve(value)
        dag_accepts = True
    except ParamValidationError:
        dag_accepts = False
    try:
        TypeAdapter(DagId).validate_python(value)
        webhook_accepts = True
    except ValidationError:
        webhook_accepts = False
    assert webhook_accepts == dag_accepts


def test_timeout_hours_param() -> None:
    param = timeout_hours_param(168, max_days=60, description="Each sign-off expires after this")
    assert param.value == 168
    assert param.description == "Each sign-off expires after this"
    assert param.schema == {"type": "number", "exclusiveMinimum": 0, "maximum": 24 * 60}
    assert timeout_hours_param(72).schema["maximum"] == 24 * 30
    assert timeout_hours_param(72).description is None
    for bad in (0, -1, 24 * 60 + 1):
        with pytest.raises(ParamValidationError):
            param.resolve(bad)


# ----------------------------------------------------------------------------- gates
@step
def _close(run: Any) -> dict[str, Any]:
    return {}


def test_approval_gate_wiring_and_its_ending() -> None:
    with DAG("durable_gate", schedule=None):
        gate = approval("ic_review", assignee="ic_member", subject="S", body="B")
        close = gate.then(_close())
    assert gate.task_id == "ic_review"
    assert gate.stage == "ic_review"
    assert gate.assignees == ["ic_member", "admin"]
    assert gate.approved_task_ids == ["_close"] == [close.operator.task_id]
    assert gate.rejected_task_id == gate.expired_task_id == "ic_review_not_approved"
    assert gate.ending.task_id == "ic_review_not_approved"
    assert gate.downstream_task_ids == {"_close", "ic_review_not_approved"}
    assert gate.response_timeout == timedelta(hours=72)
    assert gate.response_timeout_hours_param == "approval_timeout_hours"
    assert gate.notify_to == "ic_member@execution-plane.example"
    assert (gate.subject, gate.body) == ("S", "B")


def test_approval_gate_in_a_task_group_routes_within_its_group() -> None:
    with DAG("durable_gate_group", schedule=None), TaskGroup("legal"):
        gate = approval(
            "lead_signoff",
            stage="signoff_legal",
            assignee="dd_lead",
            subject="S",
            body="B",
            timeout_param="signoff_timeout_hours",
            default_hours=336,
        )
        gate.then(_close())
    assert gate.task_id == "legal.lead_signoff"
    assert gate.stage == "signoff_legal"
    assert gate.approved_task_ids == ["legal._close"]
    assert gate.rejected_task_id == "legal.lead_signoff_not_approved"
    assert gate.response_timeout == timedelta(hours=336)
    assert gate.response_timeout_hours_param == "signoff_timeout_hours"


def test_choice_routes_each_label_and_defaults_to_the_second() -> None:
    with DAG("durable_choice", schedule=None):
        first, second = _close.override(task_id="again")(), _close.override(task_id="stop")()
        gate = choice(
            "what_next",
            assignee="deal_desk",
            subject="S",
            body="B",
            first=("Again", first),
            second=("Stop", second),
            timeout_param="choice_timeout_hours",
        )
    assert gate.options == ["Again", "Stop"]
    assert gate.defaults == ["Stop"]
    assert gate.approved_task_ids == ["again"]
    assert gate.rejected_task_id == gate.expired_task_id == "stop"
    assert gate.notify_channel is None
    assert gate.downstream_task_ids == {"again", "stop"}


# ----------------------------------------------------------------------------- steps and routes
@routed_step
def _decide(run: Any, answer: dict[str, Any]) -> dict[str, Any]:
    return {"next": answer["kind"], "seen": run}


def test_a_step_is_a_task_whose_body_takes_the_run_first() -> None:
    with DAG("durable_step", schedule=None):
        out = _close()
    assert out.operator.task_id == "_close"
    assert body_of(_close)("the run") == {}
    assert body_of(_decide)("run", {"kind": "yes"}) == {"next": "yes", "seen": "run"}


def test_routes_map_outcomes_to_tasks() -> None:
    with DAG("durable_routes", schedule=None):
        decided = _decide({"kind": "yes"})
        yes, other = _close.override(task_id="yes")(), _close.override(task_id="other")()
        routes(decided, yes=yes, otherwise=other)
    operator = decided.operator
    assert isinstance(operator, RoutedStepOperator)
    assert operator.route_map == {"yes": ["yes"]}
    assert operator.otherwise == ["other"]
    assert operator.downstream_task_ids == {"yes", "other"}


def test_routes_refuse_a_plain_step() -> None:
    with DAG("durable_routes_refused", schedule=None):
        out = _close()
        with pytest.raises(TypeError, match="not a routed step"):
            routes(out, yes=_close.override(task_id="yes")())


# ----------------------------------------------------------------------------- the DAG factory
def test_durable_workflow_defaults() -> None:
    @durable_workflow(doc_md="Doc", tags=["partners"], crm_start=True, params={"partner_id": id_param("p")})
    def partner_approval() -> None:
        _close()

    dag = partner_approval()
    assert dag.dag_id == "partner_approval"
    assert list(dag.params)[:2] == ["request_id", "partner_id"]
    assert dag.params.get_param("request_id").schema["pattern"] == keys.ID_PATTERN
    assert dag.tags >= {"class:long-lived-durable", "partners", CRM_STARTABLE_TAG}
    assert dag.schedule is None
    assert dag.catchup is False
    assert dag.max_active_runs == 20_000
    assert dag.user_defined_macros == {"ep": keys}
    assert dag.on_failure_callback
    assert dag.default_args["retries"] >= 2


def test_the_failure_callback_skips_tasks_that_fail_before_any_effect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from execution_plane.saga import callbacks

    started: list[str] = []
    monkeypatch.setattr(
        callbacks, "start_compensation_on_failure", lambda ctx: started.append(ctx["ti"].task_id)
    )
    callback = compensation_callback(["verify_approval_token"])
    callback({"ti": SimpleNamespace(task_id="verify_approval_token"), "run_id": "r1"})
    assert started == []
    callback({"ti": SimpleNamespace(task_id="send_signature_request"), "run_id": "r1"})
    assert started == ["send_signature_request"]


def test_durable_workflows_refuse_rules_that_need_time_rather_than_a_change() -> None:
    """The scheduler examines a parked durable run only when something in it changed
    (execution_plane.compat.parked_runs): dagrun_timeout and depends_on_past would go unseen."""

    @durable_workflow(doc_md="Doc", params={}, default_args_overrides={"depends_on_past": True})
    def partner_approval() -> None:
        _close()

    with pytest.raises(ValueError, match="depends_on_past"):
        partner_approval()
