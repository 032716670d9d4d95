"""Replays, with Airflow's own code, what scheduler and triggerer do with a ``start_from_trigger`` task.

- Scheduler: ``DagRun.schedule_tis`` calls ``TaskInstance.defer_task`` for every schedulable TI; when the
  serialized task has ``start_from_trigger`` it writes a Trigger row from ``start_trigger_args`` and sets
  the TI DEFERRED, so no worker ever starts it. Replayed in a metadata-DB transaction that is rolled back.
- Triggerer: ``TriggerRunner.create_triggers`` decrypts and decodes the row's kwargs, builds a runtime TI from
  the serialized DAG and its template context, and ``run_trigger`` renders the trigger's template fields
  (the operator's template fields that are also trigger kwargs) before ``run()``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow import settings
from airflow.executors.workloads.task import TaskInstanceDTO
from airflow.jobs.triggerer_job_runner import TriggerRunner
from airflow.models.taskinstance import TaskInstance
from airflow.models.trigger import Trigger
from airflow.sdk import DAG
from airflow.sdk._shared.module_loading import import_string
from airflow.serialization.decoders import smart_decode_trigger_kwargs
from airflow.serialization.serialized_objects import DagSerialization
from airflow.triggers.base import BaseTrigger
from airflow.utils.state import TaskInstanceState

RUN_ID = "manual__scheduling_support"


@dataclass
class Deferral:
    deferred: bool
    state: str | None
    next_method: str | None
    classpath: str | None
    kwargs: dict[str, Any] | None


def schedule(dag: DAG, task_id: str) -> Deferral:
    """What the scheduler does with the task when it becomes schedulable."""
    task = DagSerialization.from_dict(DagSerialization.to_dict(dag)).get_task(task_id)
    ti = TaskInstance(task=task, run_id=RUN_ID, dag_version_id=uuid.uuid4())
    ti.state = TaskInstanceState.SCHEDULED
    assert settings.Session is not None
    session = settings.Session()
    try:
        deferred = ti.defer_task(session=session)
        row = session.get(Trigger, ti.trigger_id) if ti.trigger_id is not None else None
        return Deferral(
            deferred=deferred,
            state=ti.state,
            next_method=ti.next_method,
            classpath=row.classpath if row else None,
            kwargs=_decode(row.encrypted_kwargs) if row else None,
        )
    finally:
        session.rollback()
        session.close()


def start_in_triggerer(
    dag: DAG, task_id: str, deferral: Deferral, *, run_start: datetime, conf: dict[str, Any] | None = None
) -> BaseTrigger:
    """The trigger instance the triggerer runs for this deferral, its template fields rendered."""
    assert deferral.classpath is not None and deferral.kwargs is not None
    ti = TaskInstanceDTO(
        id=uuid.uuid4(),
        task_id=task_id,
        dag_id=dag.dag_id,
        run_id=RUN_ID,
        try_number=1,
        dag_version_id=uuid.uuid4(),
        pool_slots=1,
        priority_weight=1,
    )
    dag_run: dict[str, Any] = {
        "dag_id": dag.dag_id,
        "run_id": RUN_ID,
        "logical_date": None,
        "data_interval_start": None,
        "data_interval_end": None,
        "run_after": run_start,
        "start_date": run_start,
        "end_date": None,
        "run_type": "manual",
        "state": "running",
        "conf": conf or {},
        "consumed_asset_events": [],
        "partition_key": None,
    }
    runtime_ti = TriggerRunner.create_runtime_ti(ti, DagSerialization.to_dict(dag), dag_run)
    trigger: BaseTrigger = import_string(deferral.classpath)(**deferral.kwargs)
    trigger.task_instance = runtime_ti  # type: ignore[assignment]
    trigger.render_template_fields(context=runtime_ti.get_template_context())
    return trigger


def _decode(encrypted_kwargs: str) -> dict[str, Any]:
    return {k: smart_decode_trigger_kwargs(v) for k, v in Trigger._decrypt_kwargs(encrypted_kwargs).items()}
