"""``GET /dashboard``: the analyst's and the executive's numbers in one call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from execution_plane.services import dashboard
from execution_plane.services.auth import service_access
from include.services.dashboard import Dashboard

router = APIRouter(tags=["dashboard"])


@router.get(
    "/dashboard",
    dependencies=[Depends(service_access("dashboard_aggregation", "GET"))],
    response_model=Dashboard,
    summary="Workflows by type and status, who is waited on and how long, overdue approvals, compensations, "
    "outside-system error rates, lead funnel",
)
def get_dashboard(
    overdue_after_hours: Annotated[
        float, Query(gt=0, le=24 * 365, description="a pending approval older than this is overdue")
    ] = 48.0,
) -> Dashboard:
    return dashboard.aggregate(overdue_after_hours=overdue_after_hours)
