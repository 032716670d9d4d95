"""What the durable DAG files declare alike: their id and timeout params, and their approval gates.

Imported by DAG files while they are parsed (with the approval operator, which they wire anyway); the rest
of the toolkit loads when a task runs. The webhook's models (webhooks/workflows.py) must accept exactly
what these params accept: tests/dags and tests/security compare them.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param

from execution_plane.operators.approval import ApprovalGateOperator

# request_id (the workflow's business key, saga.keys.workflow_id) and the CRM's ids.
ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
ADMIN = "admin"  # may answer every approval, beside its assignee
APPROVER_EMAIL_DOMAIN = "execution-plane.example"


def id_param(description: str) -> Param:
    """A required id: the run's ``request_id``, or a CRM partner or deal id."""
    return Param(type="string", pattern=ID_PATTERN, description=description)


def timeout_hours_param(default_hours: float, *, max_days: int = 30, description: str | None = None) -> Param:
    """A ``*_timeout_hours`` param: how long one wait of the run may last, over 0, at most ``max_days``."""
    return Param(
        default_hours, type="number", exclusiveMinimum=0, maximum=24 * max_days, description=description
    )


def approval_gate(
    task_id: str,
    *,
    stage: str,
    assignee: str,
    approved: str,
    subject: str,
    body: str,
    timeout_param: str = "approval_timeout_hours",
    default_hours: float = 72,
    group: str | None = None,
) -> ApprovalGateOperator:
    """An approval gate wired as every durable workflow wires one.

    ``assignee`` (or admin) answers and is told by email; approval goes on to ``approved`` (full task ids),
    a rejection or expiry to ``<task_id>_not_approved`` beside the gate; the expiry is the run's
    ``timeout_param`` in hours (``default_hours`` when the run has none). Inside a TaskGroup pass its
    ``group`` id: task ids there carry the group's prefix.
    """
    prefix = f"{group}." if group else ""
    return ApprovalGateOperator(
        task_id=task_id,
        stage=stage,
        assignees=[assignee, ADMIN],
        approved_task_ids=approved,
        rejected_task_id=f"{prefix}{task_id}_not_approved",
        response_timeout=timedelta(hours=default_hours),
        response_timeout_hours_param=timeout_param,
        subject=subject,
        body=body,
        notify_to=f"{assignee}@{APPROVER_EMAIL_DOMAIN}",
    )
