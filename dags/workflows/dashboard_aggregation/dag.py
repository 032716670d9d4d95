"""
### Dashboard aggregation (short-lived local)

Multi-query -> aggregate -> return: workflows by type and status, approvals waiting by stage and on whom
(oldest and median wait), overdue approvals, compensations in the last 7 and 30 days, outside-system error
rates (24 h), the lead funnel, each query's time. Seven queries in one read-only REPEATABLE READ transaction,
so every figure comes from the same snapshot; the result is the task's return value (XCom).

The step is the toolkit's dashboard service, the same implementation `GET /services/dashboard` answers
with (`dashboard_task`). Budget: under 5 s with 100,000 workflows in the tables (`make bench`).

Inventory: *Dashboard aggregation*, Sync, <5 s.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, get_current_context, task

from execution_plane.services.dag import service_dag


@service_dag(
    doc_md=__doc__,
    params={
        "overdue_after_hours": Param(
            48.0,
            type="number",
            exclusiveMinimum=0,
            maximum=24 * 365,
            description="a pending approval older than this is overdue",
        ),
    },
)
def dashboard_aggregation() -> None:
    # ---------------------------------------------------------------- tasks
    @task
    def aggregate() -> dict[str, Any]:
        from workflows.dashboard_aggregation import steps

        return steps.aggregate(get_current_context()["params"])

    # ---------------------------------------------------------------- calling tasks
    aggregate()


dashboard_aggregation()
