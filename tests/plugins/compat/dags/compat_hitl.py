"""Canary DAGs of the approval early-answer workaround.

``compat_hitl_plain``: Airflow's own ``ApprovalOperator``, nothing of ours (the bug, on plain Airflow).
``compat_hitl_gate``: the project's ``ApprovalGateOperator`` (the workaround handling it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, Param

from execution_plane.operators.approval import ApprovalGateOperator

# One retry, at once: the retry is what follows the early-answer failure in both DAGs.
ONE_RETRY = {"retries": 1, "retry_delay": timedelta(seconds=0)}

with DAG("compat_hitl_plain", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    ApprovalOperator(
        task_id="approve",
        subject="canary",
        assigned_users=[{"id": "manager", "name": "manager"}],
        response_timeout=timedelta(hours=1),
        **ONE_RETRY,
    )

with DAG(
    "compat_hitl_gate",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"request_id": Param(type="string", minLength=1)},
):
    gate = ApprovalGateOperator(
        task_id="approve",
        stage="canary",
        subject="canary",
        assignees=["manager"],
        approved_task_ids="approved",
        rejected_task_id="rejected",
        response_timeout=timedelta(hours=1),
        notify_channel=None,
        **ONE_RETRY,
    )
    gate >> [EmptyOperator(task_id="approved"), EmptyOperator(task_id="rejected")]
