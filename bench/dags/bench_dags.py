"""
### Benchmark-only DAGs (bench/, loaded through an extra DAG bundle by `python -m bench.run`)

- `bench_event_wait`: a wait for an outside event parked as the shipped DAGs park theirs
  (`ExternalEventSensor` with `end_task`, deferred by a worker that registers the wait for the ingress;
  no `start_from_trigger`, which the shipped DAGs avoid), then one trivial task.
- `bench_parked`: just that wait (parked-waits benchmark: N runs parked at once).
- `bench_naive_parked`: the same wait on a trigger that opens its own connection (baseline).
- `bench_hitl`: Airflow's native HITL approval (`ApprovalOperator`), then one trivial task (baseline).
- `bench_poke`: a classic poke sensor (30 s interval, reschedule mode) on the business DB (baseline).

Correlation keys come from `run_id`: the triggerer renders templates without the run's conf.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.providers.standard.sensors.python import PythonSensor
from airflow.sdk import DAG, task

from bench.operators import NaiveWaitSensor
from execution_plane.sensors.external_event import ExternalEventSensor

START = datetime(2026, 1, 1)
FAR = "2099-01-01T00:00:00+00:00"  # deadline of the parked waits: the benchmark ends every run itself
COMMON = {
    "start_date": START,
    "catchup": False,
    "tags": ["bench"],
    "doc_md": __doc__,
    "default_args": {"retries": 0},
}


@task
def after() -> str:
    return "done"


def event_wait(task_id: str = "wait") -> ExternalEventSensor:
    return ExternalEventSensor(
        task_id=task_id,
        correlation_key="bench:{{ run_id }}",
        event_types=["bench.go"],
        timeout_at=FAR,
        end_task=True,
    )


with DAG(dag_id="bench_event_wait", schedule=None, max_active_runs=500, **COMMON):
    event_wait() >> after()

with DAG(dag_id="bench_parked", schedule=None, max_active_runs=20000, max_active_tasks=20000, **COMMON):
    event_wait()

with DAG(dag_id="bench_naive_parked", schedule=None, max_active_runs=20000, max_active_tasks=20000, **COMMON):
    NaiveWaitSensor(task_id="wait", correlation_key="bench:{{ run_id }}", event_type="bench.go")

with DAG(dag_id="bench_hitl", schedule=None, max_active_runs=500, max_active_tasks=500, **COMMON):
    (
        ApprovalOperator(
            task_id="approve",
            subject="bench approval",
            assigned_users=[{"id": "manager", "name": "manager"}],
            response_timeout=timedelta(hours=1),
        )
        >> after()
    )


def _event_arrived(correlation_key: str) -> bool:
    from execution_plane.saga.db import connect

    conn = connect(application_name="ep-bench-poke")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT 1 FROM external_events WHERE correlation_key = %s LIMIT 1", (correlation_key,)
            )
            return cur.fetchone() is not None
    finally:
        conn.close()


with DAG(dag_id="bench_poke", schedule=None, max_active_runs=50, **COMMON):
    (
        PythonSensor(
            task_id="wait",
            python_callable=_event_arrived,
            op_kwargs={"correlation_key": "bench:{{ run_id }}"},
            poke_interval=30,
            mode="reschedule",
            timeout=3600,
        )
        >> after()
    )
