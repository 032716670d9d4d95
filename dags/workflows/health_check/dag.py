"""
### Health check (short-lived local)

Service probes -> status. Probes the business database and every outside system the workflows
reach (through their Airflow connections, exactly as the workflows do), then summarizes and records each
outside system's result (the dashboard's error rates): the run fails when a critical service is down, so
the failure shows in the grid and alerts like any other. The probes and the rules are the toolkit's health
service, which also answers `GET /services/health`.

Inventory: *Health check*, Sync, <1 s per probe.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from execution_plane.defaults import default_args, tags_for


@dag(
    schedule="*/30 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    default_args=default_args(retries=2),
    tags=tags_for("health_check", "ops"),
    max_active_runs=1,
)
def health_check() -> None:
    # ---------------------------------------------------------------- tasks
    @task
    def probe_business_db() -> dict[str, object]:
        from workflows.health_check import steps

        return steps.probe_business_db()

    @task
    def probe_outside_systems() -> list[dict[str, object]]:
        from workflows.health_check import steps

        return steps.probe_outside_systems()

    @task
    def summarize_status(db: dict[str, object], outside: list[dict[str, object]]) -> dict[str, object]:
        from workflows.health_check.steps import summarize_or_fail

        return summarize_or_fail([db, *outside])

    # ---------------------------------------------------------------- calling tasks
    summarize_status(probe_business_db(), probe_outside_systems())


health_check()
