"""Canary DAG of ``execution_plane.compat.trigger_xcoms``: a task of Airflow's own defers (no sensor of ours),
its trigger's end event carries an XCom, and the next task reads it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import DAG, task

with DAG("compat_trigger_xcoms", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    wait = DateTimeSensorAsync(
        task_id="wait", target_time="{{ (dag_run.start_date + macros.timedelta(days=30)).isoformat() }}"
    )

    @task
    def read(outcome: Any) -> str:
        """What the next task receives: the trigger's value, or the text of it."""
        return type(outcome).__name__

    read(wait.output)
