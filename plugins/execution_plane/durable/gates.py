"""Approval gates wired as every durable workflow wires one, routing included.

    manager = approval("manager_approval", assignee="manager", subject=..., body=...,
                       on_not_approved=steps.record_not_approved)
    fit >> manager
    manager.then(draft)            # approved -> draft; rejected or expired -> manager_approval_not_approved

``approval`` returns the gate operator (``ApprovalGateOperator``), whose ``then`` sets where approval leads.

The gate (`ApprovalGateOperator`: Airflow HITL, ``awaiting_input``, no worker held) records the request once
in the approval bridge, tells the assignee once, records the decision. The helper creates the gate's
not-approved ending beside it (``<task_id>_not_approved``): the workflow's ``on_not_approved(run, decision)``
writes the bad ending into the workflow's own tables, then the run ends ``rejected`` or ``expired`` with the
decision as its reason and compensation starts (`Run.end_badly`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from airflow.sdk import task
from airflow.sdk.definitions.edges import Label

from execution_plane.durable.params import ADMIN, APPROVER_EMAIL_DOMAIN
from execution_plane.durable.run import Run
from execution_plane.operators.approval import ApprovalGateOperator, LabelledChoiceOperator

NotApproved = Callable[[Run, dict[str, Any]], None]


def decision_reason(decision: dict[str, Any], default: str) -> str:
    """Readable reason from a recorded decision ("rejected at legal_review_r1 by legal: too long")."""
    if not decision:
        return default
    who = decision.get("decided_by") or "nobody (timed out)"
    text = f"{decision.get('status')} at {decision.get('stage')} by {who}"
    if decision.get("comment"):
        text += f": {decision['comment']}"
    return text


def end_not_approved(run: Run, stage: str, gate: str, on_not_approved: NotApproved | None) -> None:
    """A gate did not approve: ``expired`` when nobody answered in time, else ``rejected``."""
    decision = dict(run.decision(stage) or {})
    status = "expired" if decision.get("status") == "expired" else "rejected"
    decision.update(stage=stage, gate=gate, status=decision.get("status") or status)
    if on_not_approved is not None:
        on_not_approved(run, decision)
    run.end_badly(status, decision_reason(decision, f"not approved at {gate}"))


def approval(
    task_id: str,
    *,
    assignee: str,
    subject: str,
    body: Any,
    stage: str | None = None,
    timeout_param: str = "approval_timeout_hours",
    default_hours: float = 72,
    on_not_approved: NotApproved | None = None,
    notify: bool = True,
    label: str = "rejected / expired",
    **operator_kwargs: Any,
) -> ApprovalGateOperator:
    """An approval gate for ``assignee`` (or admin), told by email, expiring after the run's ``timeout_param``
    hours (``default_hours`` without one), with its not-approved ending beside it.

    ``stage`` names the request in the approval bridge (default: the task id).
    """
    stage = stage or task_id
    gate_kwargs: dict[str, Any] = {
        "task_id": task_id,
        "stage": stage,
        "assignees": [assignee, ADMIN],
        "approved_task_ids": [],
        "rejected_task_id": f"{task_id}_not_approved",
        "response_timeout": timedelta(hours=default_hours),
        "response_timeout_hours_param": timeout_param,
        "subject": subject,
        "body": body,
        "notify_to": f"{assignee}@{APPROVER_EMAIL_DOMAIN}" if notify else None,
        **operator_kwargs,
    }
    operator = ApprovalGateOperator(**gate_kwargs)
    gate_name = task_id

    @task(task_id=f"{task_id}_not_approved")
    def not_approved() -> None:
        from airflow.sdk import get_current_context

        end_not_approved(Run(get_current_context()), stage, gate_name, on_not_approved)

    ending = not_approved()
    ending_operator: Any = ending.operator  # type: ignore[attr-defined]
    operator.rejected_task_id = operator.expired_task_id = ending_operator.task_id
    operator.ending = ending_operator
    operator >> Label(label) >> ending
    return operator


def choice(
    task_id: str,
    *,
    assignee: str,
    subject: str,
    body: Any,
    first: tuple[str, Any],
    second: tuple[str, Any],
    timeout_param: str,
    default_hours: float = 72,
    stage: str | None = None,
    **operator_kwargs: Any,
) -> ApprovalGateOperator:
    """A person's choice between two ways forward: ``first`` and ``second`` are (label, task); no answer in
    time takes ``second``. Announced by the step before it (no email of its own). Returns the gate."""
    (first_label, first_task), (second_label, second_task) = first, second
    first_op, second_op = (
        getattr(first_task, "operator", first_task),
        getattr(second_task, "operator", second_task),
    )
    operator = LabelledChoiceOperator(
        labels=(first_label, second_label),
        task_id=task_id,
        stage=stage or task_id,
        assignees=[assignee, ADMIN],
        approved_task_ids=[first_op.task_id],
        rejected_task_id=second_op.task_id,
        response_timeout=timedelta(hours=default_hours),
        response_timeout_hours_param=timeout_param,
        subject=subject,
        body=body,
        notify_channel=None,
        **operator_kwargs,
    )
    operator >> [first_op, second_op]
    return operator
