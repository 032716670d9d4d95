"""
### Saga reconciler (internal, every 2 minutes)

Callbacks can be lost (a SIGKILLed task, a dag-processor timeout); compensation must not be. Each run:

1. starts compensation for every workflow that ended badly (rejected, expired, failed) and has none;
2. finds workflows still marked running whose Airflow run has failed (their failure callback never
   started compensation) and starts it.

Every start uses the deterministic run id `compensate__<workflow_id>`, so a start that already happened
is a 409 and nothing more.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from execution_plane.defaults import default_args, tags_for


@dag(
    schedule=timedelta(minutes=2),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    default_args=default_args(retry_delay=timedelta(seconds=15)),
    tags=tags_for("saga_reconciler", "saga"),
    max_active_runs=1,
)
def saga_reconciler() -> None:
    @task
    def reconcile() -> dict[str, list[str]]:
        from execution_plane.saga.reconciler import reconcile as run_reconcile

        return run_reconcile()

    reconcile()


saga_reconciler()
