"""Dashboard aggregation, the one implementation behind ``GET /services/dashboard`` and the workflow step
(``dashboard_task``).

Seven queries in ONE read-only REPEATABLE READ transaction (every figure from the same snapshot), each
answered from an index of migration 0003 (or the tables' own), with every time window computed once from one
``now`` by ``include.services.dashboard.windows``. Budget: 5 s with 100,000 workflows in the tables
(``bench/services.py`` seeds them and measures it through the route).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from execution_plane.services import db
from include.services.dashboard import (
    ERROR_RATE_WINDOW_HOURS,
    Compensations,
    Dashboard,
    Overdue,
    OverdueApproval,
    StageWait,
    WaitingOn,
    Window,
    WorkflowCount,
    WorkflowFigures,
    error_rates,
    lead_funnel,
    windows,
)

T = TypeVar("T")

OVERDUE_LIST = 20
COMPENSATION_STATUSES = ["compensating", "compensated", "compensation_failed"]


def _hours(seconds: Any) -> float:
    return round(float(seconds or 0) / 3600, 2)


# Every workflow figure can be narrowed to some workflow types (the Workflows page: the DAGs its reader may
# read); NULL means every type, as the route and the workflow step answer.
_OF_TYPES = "(%(types)s::text[] IS NULL OR dag_id = ANY(%(types)s))"


def _workflows(cur: Any, w: Window, types: list[str] | None) -> list[WorkflowCount]:
    cur.execute(
        f"SELECT dag_id, status, count(*) FROM saga_workflows WHERE {_OF_TYPES} GROUP BY 1, 2 ORDER BY 1, 2",
        {"types": types},
    )
    return [WorkflowCount(dag_id=d, status=s, count=n) for d, s, n in cur.fetchall()]


def _waiting_by_stage(cur: Any, w: Window, types: list[str] | None) -> list[StageWait]:
    cur.execute(
        "SELECT dag_id, stage, count(*), extract(epoch FROM %(now)s - min(created_at)),"
        " extract(epoch FROM %(now)s - percentile_disc(0.5) WITHIN GROUP (ORDER BY created_at))"
        f" FROM approval_requests WHERE status = 'pending' AND {_OF_TYPES}"
        " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
        {"now": w.now, "types": types},
    )
    return [
        StageWait(dag_id=d, stage=s, pending=n, oldest_hours=_hours(oldest), median_hours=_hours(median))
        for d, s, n, oldest, median in cur.fetchall()
    ]


def _waiting_on(cur: Any, w: Window, types: list[str] | None) -> list[WaitingOn]:
    cur.execute(
        "SELECT coalesce(who, 'unassigned'), count(*), extract(epoch FROM %(now)s - min(created_at)),"
        " extract(epoch FROM %(now)s - percentile_disc(0.5) WITHIN GROUP (ORDER BY created_at))"
        " FROM approval_requests LEFT JOIN LATERAL unnest(assignees) AS who ON true"
        f" WHERE status = 'pending' AND {_OF_TYPES} GROUP BY 1 ORDER BY 2 DESC, 1",
        {"now": w.now, "types": types},
    )
    return [
        WaitingOn(assignee=who, pending=n, oldest_hours=_hours(oldest), median_hours=_hours(median))
        for who, n, oldest, median in cur.fetchall()
    ]


def _overdue(cur: Any, w: Window, types: list[str] | None) -> Overdue:
    values = {"now": w.now, "before": w.overdue_before, "types": types, "limit": OVERDUE_LIST}
    where = f"status = 'pending' AND created_at < %(before)s AND {_OF_TYPES}"
    cur.execute(f"SELECT count(*) FROM approval_requests WHERE {where}", values)
    total = int(cur.fetchone()[0])
    cur.execute(
        "SELECT request_id, workflow_id, dag_id, stage, assignees, extract(epoch FROM %(now)s - created_at)"
        f" FROM approval_requests WHERE {where} ORDER BY created_at LIMIT %(limit)s",
        values,
    )
    oldest = [
        OverdueApproval(
            request_id=r, workflow_id=wf, dag_id=d, stage=s, assignees=list(a), waiting_hours=_hours(secs)
        )
        for r, wf, d, s, a, secs in cur.fetchall()
    ]
    return Overdue(after_hours=w.overdue_after_hours, total=total, oldest=oldest)


def _compensations(cur: Any, w: Window, types: list[str] | None) -> Compensations:
    names = ("7d", "30d")  # the windows of include.services.dashboard.COMPENSATION_WINDOWS_DAYS
    assert tuple(w.compensations_since) == names
    cur.execute(
        "SELECT dag_id, status, count(*) FILTER (WHERE updated_at >= %(since_7d)s),"
        " count(*) FILTER (WHERE updated_at >= %(since_30d)s) FROM saga_workflows"
        f" WHERE status = ANY(%(statuses)s) AND updated_at >= %(since_30d)s AND {_OF_TYPES}"
        " GROUP BY 1, 2 ORDER BY 1, 2",
        {
            "since_7d": w.compensations_since["7d"],
            "since_30d": w.compensations_since["30d"],
            "statuses": COMPENSATION_STATUSES,
            "types": types,
        },
    )
    by_window: dict[str, dict[str, dict[str, int]]] = {n: {} for n in names}
    for dag_id, status, *counts in cur.fetchall():
        for name, n in zip(names, counts, strict=True):
            if n:
                by_window[name].setdefault(dag_id, {})[status] = int(n)
    totals = {n: sum(sum(s.values()) for s in by_window[n].values()) for n in names}
    return Compensations(by_window=by_window, totals=totals)


def _untimed(name: str, query: Callable[[], T]) -> T:
    return query()


def workflow_figures(
    cur: Any,
    w: Window,
    *,
    dag_ids: Sequence[str] | None = None,
    timed: Callable[[str, Callable[[], Any]], Any] = _untimed,
) -> WorkflowFigures:
    """The dashboard's workflow figures in the caller's transaction (its snapshot), of the workflow types
    ``dag_ids`` (None: every type). The Workflows page shows them above its list for the types its reader
    may read."""
    types = None if dag_ids is None else list(dag_ids)
    return WorkflowFigures(
        workflows=timed("workflows", lambda: _workflows(cur, w, types)),
        waiting_by_stage=timed("waiting_by_stage", lambda: _waiting_by_stage(cur, w, types)),
        waiting_on=timed("waiting_on", lambda: _waiting_on(cur, w, types)),
        overdue=timed("overdue", lambda: _overdue(cur, w, types)),
        compensations=timed("compensations", lambda: _compensations(cur, w, types)),
    )


def _outside_errors(cur: Any, w: Window) -> list[tuple[str, int, int]]:
    cur.execute(
        "SELECT system, count(*), count(*) FILTER (WHERE NOT ok) FROM outside_calls WHERE at >= %s"
        " GROUP BY 1",
        (w.errors_since,),
    )
    return [(s, int(n), int(e)) for s, n, e in cur.fetchall()]


def _lead_counts(cur: Any, w: Window) -> dict[tuple[str, str], int]:
    cur.execute("SELECT stage, band, count(*) FROM lead_scores GROUP BY 1, 2")
    return {(s, b): int(n) for s, b, n in cur.fetchall()}


def aggregate(*, overdue_after_hours: float = 48.0, now: datetime | None = None) -> Dashboard:
    w = windows(now or datetime.now(UTC), overdue_after_hours=overdue_after_hours)
    timings: dict[str, float] = {}

    def timed(name: str, query: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = query()
        timings[name] = round((time.perf_counter() - started) * 1000, 2)
        return result

    def work(cur: Any) -> Dashboard:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        figures = workflow_figures(cur, w, timed=timed)
        return Dashboard(
            generated_at=w.now,
            **dict(figures),
            outside_errors_window_hours=ERROR_RATE_WINDOW_HOURS,
            outside_errors=error_rates(timed("outside_errors", lambda: _outside_errors(cur, w))),
            lead_funnel=lead_funnel(timed("lead_funnel", lambda: _lead_counts(cur, w))),
            query_ms=timings,
        )

    return db.transaction(work)


def dashboard_task(overdue_after_hours: float = 48.0) -> dict[str, Any]:
    """The workflow step: the dashboard (JSON, for XCom or a report)."""
    return aggregate(overdue_after_hours=overdue_after_hours).model_dump(mode="json")
