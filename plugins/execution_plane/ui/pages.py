"""The HTML of the Workflows page: Jinja templates (``templates/``, autoescaped) over the models."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2

from execution_plane.ui import charts
from execution_plane.ui.filters import MAX_PAGE_SIZE, ORDERS, ListFilters
from execution_plane.ui.models import Charts, WorkflowDetail, WorkflowList
from execution_plane.ui.queries import AGE_BUCKETS, ApproverAges, StageTimes, WeekCounts
from execution_plane.ui.states import LABELS, STATES, STATUS_FILTERS
from include.services.dashboard import WorkflowFigures

TEMPLATES = Path(__file__).parent / "templates"
PAGE_SIZES = (25, 50, 100, MAX_PAGE_SIZE)


def when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """``3.5 h ago`` / ``in 2 d``."""
    if value is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    return f"{charts.duration(seconds)} ago" if seconds >= 0 else f"in {charts.duration(-seconds)}"


def short(digest: str | None) -> str:
    return "" if not digest else f"{digest[:12]}…"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, ago=ago, short=short, duration=charts.duration)
    env.globals.update(labels=LABELS)
    return env


def _render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


@dataclass(frozen=True)
class GlanceLink:
    label: str
    count: int
    href: str | None
    css: str = ""


@dataclass(frozen=True)
class Glance:
    """The list's "at a glance" line: the dashboard aggregation's figures for the selected types, each a link
    to the list of what it counts."""

    statuses: list[GlanceLink]
    approvals_pending: int
    oldest: str | None
    approvers: list[GlanceLink]
    overdue: GlanceLink
    compensated_7d: int
    compensated_30d: int


GLANCE_APPROVERS = 8
# The saga says "running" for a workflow that works and for one that waits: the list shows both.
_RUNNING_STATES = ("running", "waiting")


def glance(figures: WorkflowFigures, filters: ListFilters, page: str) -> Glance:
    def href(**only: object) -> str:
        kept = ListFilters(
            type=filters.type,
            overdue_after_hours=filters.overdue_after_hours,
            order=filters.order,
            page_size=filters.page_size,
        )
        return f"{page}/?{urlencode(kept.query(**only))}"

    by_status: dict[str, int] = defaultdict(int)
    for row in figures.workflows:
        by_status[row.status] += row.count
    order = {state: i for i, state in enumerate(STATES)}
    statuses = [
        GlanceLink(
            label=LABELS.get(status, status),
            count=count,
            href=href(status=_RUNNING_STATES if status == "running" else (status,))
            if status in STATUS_FILTERS
            else None,
            css=f"s-{status}",
        )
        for status, count in sorted(by_status.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    ]
    approvers = [
        GlanceLink(
            label=w.assignee,
            count=w.pending,
            href=None if w.assignee == "unassigned" else href(waiting_on=w.assignee),
        )
        for w in figures.waiting_on[:GLANCE_APPROVERS]
    ]
    stages = figures.waiting_by_stage
    oldest_s = max((s.oldest_hours for s in stages), default=None)
    if oldest_s is not None:
        oldest_s *= 3600  # the dashboard's hours have two decimals: 36 s steps
    return Glance(
        statuses=statuses,
        approvals_pending=sum(s.pending for s in stages),
        oldest=None if oldest_s is None else "under a minute" if oldest_s < 60 else charts.duration(oldest_s),
        approvers=approvers,
        overdue=GlanceLink(label="overdue", count=figures.overdue.total, href=href(overdue=True)),
        compensated_7d=figures.compensations.totals.get("7d", 0),
        compensated_30d=figures.compensations.totals.get("30d", 0),
    )


def list_page(data: WorkflowList, filters: ListFilters, page: str, ms: float) -> str:
    def link(**changes: object) -> str:
        return f"{page}/?{urlencode(filters.query(**changes))}"

    first = min(data.total, filters.offset + 1)
    return _render(
        "list.html",
        title="Workflows",
        tab="list",
        page=page,
        data=data,
        filters=filters,
        statuses=STATUS_FILTERS,
        orders=ORDERS,
        page_sizes=PAGE_SIZES,
        link=link,
        export=f"{page}/export.csv?{urlencode(filters.query(page=1))}",
        shown=(first, filters.offset + len(data.items)),
        glance=glance(data.overview, filters, page),
        ms=ms,
    )


def detail_page(data: WorkflowDetail, page: str, ms: float) -> str:
    return _render(
        "detail.html",
        title=f"{data.workflow.type_name} {data.workflow.business_key}",
        tab="detail",
        page=page,
        data=data,
        w=data.workflow,
        ms=ms,
    )


def charts_page(data: Charts, filters: ListFilters, page: str, ms: float) -> str:
    by_type: dict[str, list[StageTimes]] = defaultdict(list)
    for s in data.stage_durations:
        by_type[s.type_name].append(
            StageTimes(s.dag_id, s.kind, s.stage, s.n, (s.min, s.p10, s.p25, s.median, s.p75, s.p90, s.max))
        )
    stage_svgs = [
        (name, charts.stage_times(f"Time per stage: {name}", stages))
        for name, stages in sorted(by_type.items())
    ]
    weekly_svg = charts.weekly(
        [WeekCounts(w.week, w.started, w.completed, w.compensated) for w in data.weeks]
    )
    approvals_svg = charts.approvals_waiting(
        [
            ApproverAges(a.approver, tuple(a.by_age[name] for name, _ in AGE_BUCKETS))
            for a in data.approvals_waiting
        ]
    )
    return _render(
        "charts.html",
        title="Charts",
        tab="charts",
        page=page,
        data=data,
        filters=filters,
        stage_svgs=stage_svgs,
        weekly_svg=weekly_svg,
        approvals_svg=approvals_svg,
        buckets=[name for name, _ in AGE_BUCKETS],
        ms=ms,
    )


def error_page(status: int, message: str, field: str | None, page: str, login: str | None = None) -> str:
    return _render(
        "error.html",
        title="Workflows",
        tab="error",
        page=page,
        status=status,
        message=message,
        field=field,
        login=login,
        ms=None,
    )
