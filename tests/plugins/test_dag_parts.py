"""The pieces the durable DAG files share: id and timeout params, the approval gate's wiring."""

from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.sdk import DAG, TaskGroup
from airflow.sdk.definitions.param import ParamValidationError

from execution_plane.dag_parts import ID_PATTERN, approval_gate, id_param, timeout_hours_param
from execution_plane.webhooks.workflows import DAG_ID_PATTERN


def test_id_param_accepts_crm_ids_only() -> None:
    param = id_param("CRM deal id")
    assert param.description == "CRM deal id"
    assert param.schema == {"type": "string", "pattern": r"^[A-Za-z0-9._-]{1,64}$"}
    assert param.resolve("D-1001.a_b") == "D-1001.a_b"
    for bad in ("", "a b", "x" * 65, "a/b"):
        with pytest.raises(ParamValidationError):
            param.resolve(bad)


def test_the_webhooks_id_pattern_is_the_dags() -> None:
    """The CRM ingress validates ids with its own (Airflow-free) copy of the pattern: the same one."""
    assert DAG_ID_PATTERN == ID_PATTERN


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


def test_approval_gate_wiring() -> None:
    with DAG("dag_parts_gate", schedule=None):
        gate = approval_gate(
            "ic_review", stage="ic_review", assignee="ic_member", approved="close", subject="S", body="B"
        )
    assert gate.task_id == "ic_review"
    assert gate.assignees == ["ic_member", "admin"]
    assert gate.approved_task_ids == ["close"]
    assert gate.rejected_task_id == gate.expired_task_id == "ic_review_not_approved"
    assert gate.response_timeout == timedelta(hours=72)
    assert gate.response_timeout_hours_param == "approval_timeout_hours"
    assert gate.notify_to == "ic_member@execution-plane.example"
    assert (gate.subject, gate.body) == ("S", "B")


def test_approval_gate_in_a_task_group_routes_to_its_group() -> None:
    with DAG("dag_parts_group", schedule=None), TaskGroup("legal"):
        gate = approval_gate(
            "lead_signoff",
            stage="signoff_legal",
            assignee="dd_lead",
            approved="legal.signed_off",
            subject="S",
            body="B",
            group="legal",
            timeout_param="signoff_timeout_hours",
            default_hours=336,
        )
    assert gate.task_id == "legal.lead_signoff"
    assert gate.rejected_task_id == "legal.lead_signoff_not_approved"
    assert gate.response_timeout == timedelta(hours=336)
    assert gate.response_timeout_hours_param == "signoff_timeout_hours"
