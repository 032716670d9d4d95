"""
### Toolkit probe (test-only DAGs of the live suite)

send a message (its undo: a cancellation notice) -> wait for an outside event (deferred from a worker, ended
in the triggerer: no worker resume) -> approval -> complete; a rejection ends badly and is compensated. The
`_no_callback` variant fails on purpose without a failure callback, so only the reconciler can start its
compensation. `toolkit_probe_resume_control` is the same wait without `end_task`: the trigger's event resumes
it on a worker, so the live test shows that what it reads to prove "no worker resume" tells the two apart.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, get_current_context, task

from execution_plane.defaults import default_args
from execution_plane.operators.approval import ApprovalGateOperator
from execution_plane.saga.callbacks import start_compensation_on_failure
from execution_plane.sensors.external_event import ExternalEventSensor

WAIT_DEADLINE = "{{ (dag_run.start_date + macros.timedelta(minutes=15)).isoformat() }}"

PARAMS = {
    "request_id": Param(type="string", pattern=r"^[A-Za-z0-9._-]{1,64}$"),
    "recipient": Param("partner@example.com", type="string"),
    "approval_timeout_hours": Param(1, type="number", exclusiveMinimum=0),
}


@task
def send_hello() -> dict:
    from execution_plane.saga.compensations import Compensation
    from execution_plane.saga.steps import Saga

    context = get_current_context()
    to = context["params"]["recipient"]
    with Saga.from_context(context) as saga:
        saga.register()
        return saga.send_message(
            "hello",
            channel="email",
            to=to,
            template="probe_hello",
            subject="Hello",
            body="Hello from the probe",
            compensation=Compensation(
                "message.notify",
                {
                    "channel": "email",
                    "to": to,
                    "subject": "Cancelled",
                    "body": "Please disregard our previous message.",
                    "template": "probe_cancelled",
                },
            ),
        )


@task
def review_not_approved() -> None:
    from execution_plane.durable.gates import decision_reason
    from execution_plane.saga.outcomes import end_badly

    context = get_current_context()
    decision = context["ti"].xcom_pull(task_ids="review", key="decision") or {}
    status = "expired" if decision.get("status") == "expired" else "rejected"
    end_badly(context, status, decision_reason(decision, "not approved"))


@task
def complete() -> dict:
    from execution_plane.saga.outcomes import complete as finish

    return finish(get_current_context())


@task
def boom() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException("failing on purpose")


def probe(dag_id: str, *, with_callback: bool) -> DAG:
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        doc_md=__doc__,
        default_args=default_args(retry_delay=timedelta(seconds=2)),
        tags=["e2e"],
        max_active_runs=200,
        params=PARAMS,
        on_failure_callback=start_compensation_on_failure if with_callback else None,
    ) as dag:
        hello = send_hello()
        if not with_callback:
            hello >> boom()
            return dag
        go = ExternalEventSensor(
            task_id="wait_for_go",
            correlation_key="toolkit_probe:{{ params.request_id }}",
            event_types=["probe.go"],
            timeout_at=WAIT_DEADLINE,
            end_task=True,
        )
        review = ApprovalGateOperator(
            task_id="review",
            stage="review",
            assignees=["manager"],
            approved_task_ids="complete",
            rejected_task_id="review_not_approved",
            response_timeout=timedelta(hours=1),
            response_timeout_hours_param="approval_timeout_hours",
            subject="Probe review",
            notify_to="manager@execution-plane.example",
        )
        hello >> go >> review >> [complete(), review_not_approved()]
    return dag


def resume_control(dag_id: str) -> DAG:
    """The probe's wait, ended the ordinary way: the trigger's event resumes the task on a worker."""
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        doc_md=__doc__,
        default_args=default_args(retry_delay=timedelta(seconds=2)),
        tags=["e2e"],
        max_active_runs=200,
        params={"request_id": PARAMS["request_id"]},
        # Not among the stack's unpaused DAG ids (tests/e2e/conftest.py): only the test that uses it runs it.
        is_paused_upon_creation=False,
    ) as dag:
        ExternalEventSensor(
            task_id="wait_for_go",
            correlation_key="toolkit_probe:{{ params.request_id }}",
            event_types=["probe.go"],
            timeout_at=WAIT_DEADLINE,
            end_task=False,
        )
    return dag


toolkit_probe = probe("toolkit_probe", with_callback=True)
toolkit_probe_no_callback = probe("toolkit_probe_no_callback", with_callback=False)
toolkit_probe_resume_control = resume_control("toolkit_probe_resume_control")
