"""Test-only DAG of tests/plugins/approvals: register -> an approval gate (72 h by default, announced by
email) -> finish."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, get_current_context, task

from execution_plane.defaults import default_args
from execution_plane.operators.approval import ApprovalGateOperator


@task
def register() -> None:
    from execution_plane.saga.steps import Saga

    with Saga.from_context(get_current_context()) as saga:
        saga.register()


@task(trigger_rule="none_failed_min_one_success")
def finish() -> dict:
    from execution_plane.saga.outcomes import complete

    return complete(get_current_context())


with DAG(
    "ep_approval_reminder_probe",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    default_args=default_args(retry_delay=timedelta(seconds=1)),
    params={
        "request_id": Param(type="string"),
        "approval_timeout_hours": Param(72, type="number", exclusiveMinimum=0),
    },
) as dag:
    gate = ApprovalGateOperator(
        task_id="review",
        stage="review",
        assignees=["manager", "admin"],
        approved_task_ids="finish",
        rejected_task_id="finish",
        response_timeout=timedelta(hours=72),
        response_timeout_hours_param="approval_timeout_hours",
        subject="Approve reminder probe {{ params.request_id }}",
        body="A probe of the reminders.",
        notify_to="manager@execution-plane.example",
    )
    register() >> gate >> finish()
