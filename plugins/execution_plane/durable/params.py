"""The params every durable DAG declares alike: its business key, the CRM's ids, and its waits' lengths.

The DAG's params are the one contract of a workflow's input: the trigger form, ``POST /dagRuns`` and the
CRM webhook all validate against them (the webhook reads them from the deployed DAG).
"""

from __future__ import annotations

from airflow.sdk import Param

from execution_plane.approvals.policy import ADMIN, APPROVER_EMAIL_DOMAIN
from execution_plane.saga.keys import ID_PATTERN

__all__ = ["ADMIN", "APPROVER_EMAIL_DOMAIN", "id_param", "timeout_hours_param"]


def id_param(description: str) -> Param:
    """A required id: the run's ``request_id``, or a CRM partner or deal id."""
    return Param(type="string", pattern=ID_PATTERN, description=description)


def timeout_hours_param(default_hours: float, *, max_days: int = 30, description: str | None = None) -> Param:
    """A ``*_timeout_hours`` param: how long one wait of the run may last, over 0, at most ``max_days``."""
    return Param(
        default_hours, type="number", exclusiveMinimum=0, maximum=24 * max_days, description=description
    )
