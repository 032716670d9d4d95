"""
### Health check (short-lived local)

Service probes -> status. Probes the business database and every outside system the workflows
reach (through their Airflow connections, exactly as the workflows do), then summarizes: the run
fails when a critical service is down, so the failure shows in the grid and alerts like any other.

Inventory: *Health check*, Sync, <1 s per probe.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from execution_plane.defaults import default_args, tags_for

# Outside systems whose outage stops a durable workflow from making progress.
HTTP_CONNECTIONS = (
    "crm_default",
    "esign_default",
    "email_default",
    "whatsapp_default",
    "sms_default",
    "docstore_default",
)
# Reached by some workflows only; their outage degrades, it does not stop everything.
OPTIONAL_HTTP_CONNECTIONS = ("calcom_default", "llm_default", "research_default", "financials_default")


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
        from execution_plane.health import probe_postgres

        return probe_postgres("execution_plane_db")

    @task
    def probe_outside_systems() -> list[dict[str, object]]:
        from execution_plane.health import probe_http

        return [probe_http(c, critical=True) for c in HTTP_CONNECTIONS] + [
            probe_http(c, critical=False) for c in OPTIONAL_HTTP_CONNECTIONS
        ]

    @task
    def summarize_status(db: dict[str, object], outside: list[dict[str, object]]) -> dict[str, object]:
        from execution_plane.health import summarize_or_fail

        return summarize_or_fail([db, *outside])

    # ---------------------------------------------------------------- calling tasks
    summarize_status(probe_business_db(), probe_outside_systems())


health_check()
