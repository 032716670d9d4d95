"""Canary DAG of the parked-runs workaround: an approval parks the run, a plain task follows it."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG

PARKING_TAG = "compat_parking"

with DAG(
    "compat_parked_run", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=[PARKING_TAG]
):
    ApprovalOperator(
        task_id="approve",
        subject="canary",
        assigned_users=[{"id": "manager", "name": "manager"}],
        response_timeout=timedelta(hours=1),
    ) >> EmptyOperator(task_id="next")
