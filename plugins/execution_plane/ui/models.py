"""What the Workflows page answers (the JSON routes return these; the HTML pages render them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from execution_plane.ui.states import WaitKind
from include.services.dashboard import WorkflowFigures


class WorkflowType(BaseModel):
    dag_id: str
    name: str
    workflow_class: str | None = Field(description="the inventory's class; None for a DAG it does not list")


class Wait(BaseModel):
    """One thing a running workflow waits on now."""

    kind: WaitKind
    stage: str = Field(description="the approval stage, or the waiting task")
    who: list[str] = Field(description="the approvers, or the outside event's family, or 'date'")
    label: str
    since: datetime | None
    expires_at: datetime | None = Field(description="when the wait runs out (its default answer or expiry)")
    overdue: bool


class WorkflowItem(BaseModel):
    workflow_id: str
    dag_id: str
    type_name: str
    business_key: str
    status: str = Field(description="the saga's status")
    state: str = Field(description="the status, or for a running workflow what it waits on")
    state_label: str
    stage: str | None = Field(description="where it is: what it waits at, else the newest step or decision")
    waits: list[Wait]
    waiting_since: datetime | None
    expires_at: datetime | None
    overdue: bool
    reason: str | None
    run_id: str
    run_url: str
    url: str = Field(description="its page here")
    started_at: datetime
    updated_at: datetime


class WorkflowList(BaseModel):
    total: int
    page: int
    page_size: int
    pages: int
    items: list[WorkflowItem]
    types: list[WorkflowType] = Field(description="the workflow types this user may read")
    waiting_on: list[str] = Field(description="who and what running workflows wait on now")
    overview: WorkflowFigures = Field(
        description="the dashboard aggregation's workflow figures for the selected types (the type filter"
        " only: the whole picture the other filters narrow)"
    )
    query_ms: dict[str, float]


class LinkedWorkflow(BaseModel):
    workflow_id: str
    dag_id: str
    business_key: str
    status: str
    started_at: datetime
    url: str


class TimelineEntry(BaseModel):
    at: datetime
    kind: str = Field(description="started, step, compensation, approval, decision, event, document, ended")
    title: str
    detail: str | None = None
    who: str | None = None
    status: str | None = None
    sha256: str | None = None


class Document(BaseModel):
    sha256: str
    kind: str
    uri: str
    size_bytes: int
    created_at: datetime


class EvidencePack(BaseModel):
    source: str
    subject: str
    as_of: datetime | None
    items: int | None
    manifest_sha256: str
    document_sha256: str
    json_sha256: str | None
    built_at: datetime
    rebuilds: int
    mismatch_sha256: str | None


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    details: Any
    prev_hash: str
    hash: str
    intact: bool
    problems: list[str]


class WorkflowDetail(BaseModel):
    workflow: WorkflowItem
    compensation_run_url: str | None
    parent: LinkedWorkflow | None
    children: list[LinkedWorkflow]
    hidden_relatives: int = Field(description="parent or children of DAGs this user may not read (not shown)")
    timeline: list[TimelineEntry]
    documents: list[Document]
    evidence_packs: list[EvidencePack]
    audit: list[AuditEntry]
    audit_intact: bool = Field(description="every audit row of the workflow matches its hash and its links")
    query_ms: dict[str, float]


class StageDurations(BaseModel):
    """How long the workflows of one type spent at one stage (seconds)."""

    dag_id: str
    type_name: str
    kind: str = Field(description="approval (opened -> decided) or step (from the step before it)")
    stage: str
    n: int
    min: float
    p10: float
    p25: float
    median: float
    p75: float
    p90: float
    max: float


class WeekFigures(BaseModel):
    week: datetime
    started: int
    completed: int
    compensated: int


class ApproverWaiting(BaseModel):
    approver: str
    by_age: dict[str, int]
    total: int


class Charts(BaseModel):
    since: datetime = Field(description="workflows started from (a Monday, 00:00 UTC)")
    until: datetime
    types: list[WorkflowType]
    stage_durations: list[StageDurations]
    weeks: list[WeekFigures]
    approvals_waiting: list[ApproverWaiting]
    query_ms: dict[str, float]
