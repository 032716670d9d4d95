"""The one step: the dashboard service's task function, the same implementation as
``GET /services/dashboard``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def aggregate(params: Mapping[str, Any]) -> dict[str, Any]:
    """Every figure from one snapshot of the business database (read only; nothing is written)."""
    from airflow.sdk.exceptions import AirflowFailException

    from execution_plane.services.dashboard import dashboard_task

    unknown = sorted(set(params) - {"overdue_after_hours"})
    if unknown:  # the route knows one query parameter; a misspelt one would silently mean the default
        raise AirflowFailException(f"unknown params: {', '.join(unknown)} (only overdue_after_hours)")
    return dashboard_task(overdue_after_hours=float(params["overdue_after_hours"]))
