"""Dashboard aggregation: the numbers an analyst and an executive ask for, in one answer.

The toolkit runs the queries (``execution_plane.services.dashboard``); the rules here decide what the rows
mean: the windows (compensations in the last 7 and 30 days, outside-system error rates over 24 hours),
when an approval is overdue, and how the lead funnel converts.
"""

from __future__ import annotations

from include.services.dashboard.models import (
    Compensations,
    Dashboard,
    ErrorRate,
    FunnelStep,
    LeadFunnel,
    Overdue,
    OverdueApproval,
    StageWait,
    WaitingOn,
    WorkflowCount,
    WorkflowFigures,
)
from include.services.dashboard.rules import (
    COMPENSATION_WINDOWS_DAYS,
    ERROR_RATE_WINDOW_HOURS,
    FUNNEL_STAGES,
    Window,
    error_rates,
    lead_funnel,
    windows,
)

__all__ = [
    "COMPENSATION_WINDOWS_DAYS",
    "ERROR_RATE_WINDOW_HOURS",
    "FUNNEL_STAGES",
    "Compensations",
    "Dashboard",
    "ErrorRate",
    "FunnelStep",
    "LeadFunnel",
    "Overdue",
    "OverdueApproval",
    "StageWait",
    "WaitingOn",
    "Window",
    "WorkflowCount",
    "WorkflowFigures",
    "error_rates",
    "lead_funnel",
    "windows",
]
