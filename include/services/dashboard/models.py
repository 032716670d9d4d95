"""What the dashboard answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class WorkflowCount(BaseModel):
    dag_id: str
    status: str
    count: int


class StageWait(BaseModel):
    """Pending approvals of one stage of one workflow type."""

    dag_id: str
    stage: str
    pending: int
    oldest_hours: float
    median_hours: float


class WaitingOn(BaseModel):
    """Pending approvals assigned to one person (``unassigned`` when nobody is)."""

    assignee: str
    pending: int
    oldest_hours: float
    median_hours: float


class OverdueApproval(BaseModel):
    request_id: str
    workflow_id: str
    dag_id: str
    stage: str
    assignees: list[str]
    waiting_hours: float


class Overdue(BaseModel):
    after_hours: float
    total: int
    oldest: list[OverdueApproval] = Field(description="the longest-waiting overdue approvals")


class Compensations(BaseModel):
    """Workflows compensated (or being, or failed to be) whose compensation moved within each window."""

    by_window: dict[str, dict[str, dict[str, int]]] = Field(
        description="window ('7d', '30d') -> dag_id -> status -> count"
    )
    totals: dict[str, int]


class ErrorRate(BaseModel):
    system: str
    calls: int
    errors: int
    error_rate: float


class FunnelStep(BaseModel):
    stage: str
    at_stage: int
    reached: int = Field(description="leads at this stage or beyond")
    conversion_from_previous: float | None


class LeadFunnel(BaseModel):
    steps: list[FunnelStep]
    lost: int
    by_band: dict[str, int]
    scored: int


class WorkflowFigures(BaseModel):
    """The dashboard's figures about workflows (a part of ``Dashboard``; the Workflows page shows them for the
    workflow types its reader may read)."""

    workflows: list[WorkflowCount]
    waiting_by_stage: list[StageWait]
    waiting_on: list[WaitingOn]
    overdue: Overdue
    compensations: Compensations


class Dashboard(BaseModel):
    generated_at: datetime
    workflows: list[WorkflowCount]
    waiting_by_stage: list[StageWait]
    waiting_on: list[WaitingOn]
    overdue: Overdue
    compensations: Compensations
    outside_errors_window_hours: int
    outside_errors: list[ErrorRate]
    lead_funnel: LeadFunnel
    query_ms: dict[str, float] = Field(description="time each query took, for the budget")
