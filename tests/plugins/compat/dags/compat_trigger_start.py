"""Canary DAGs: a task of Airflow's own (no sensor of ours) that starts in the triggerer, in a DAG whose param
has no default, as every durable DAG of the project has (``request_id``), and in one whose param has one."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import DAG, Param

with DAG(
    "compat_trigger_start_plain",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"request_id": Param(type="string", minLength=1)},
):
    DateTimeSensorAsync(
        task_id="wait",
        target_time="{{ (dag_run.start_date + macros.timedelta(days=30)).isoformat() }}",
        start_from_trigger=True,
        end_from_trigger=True,
    )

with DAG(
    "compat_trigger_start_default",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"request_id": Param("r-0", type="string", minLength=1)},
):
    DateTimeSensorAsync(
        task_id="wait",
        target_time="{{ (dag_run.start_date + macros.timedelta(days=30)).isoformat() }}",
        start_from_trigger=True,
        end_from_trigger=True,
    )
