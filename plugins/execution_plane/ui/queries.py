"""The business database's side of the Workflows page: the filtered list (one page, its count, the CSV) and
the charts, each a read-only query on ``saga_workflows`` and the ledger's approval requests and steps.

What a running workflow is parked on comes from Airflow (``parked.py``) and is passed in as arrays (one row
per wait and per name it waits on): the list's state, its filters on status, "waiting on" and "overdue" are
then one query, so a page and its count agree with the filter whatever the number of workflows. Every value
is a parameter; the SQL text is constant.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from execution_plane.ui.filters import ListFilters
from execution_plane.ui.parked import ParkedWait
from execution_plane.ui.states import WAITING

_LIVE = (
    "WITH live AS (SELECT * FROM unnest(%(l_dag)s::text[], %(l_run)s::text[], %(l_kind)s::text[],"
    " %(l_who)s::text[], %(l_until)s::timestamptz[]) AS l(dag_id, run_id, kind, who, until_at))"
)
_LIVE_OF_ROW = "SELECT 1 FROM live l WHERE l.dag_id = w.dag_id AND l.run_id = w.run_id"
_PENDING_OF_ROW = (
    "SELECT 1 FROM approval_requests a WHERE a.workflow_id = w.workflow_id AND a.status = 'pending'"
)
_STATE = (
    "CASE WHEN w.status <> 'running' THEN w.status"
    f" WHEN EXISTS ({_PENDING_OF_ROW}) OR EXISTS ({_LIVE_OF_ROW} AND l.kind = 'person') THEN 'waiting_person'"
    f" WHEN EXISTS ({_LIVE_OF_ROW} AND l.kind = 'system') THEN 'waiting_system'"
    f" WHEN EXISTS ({_LIVE_OF_ROW} AND l.kind = 'date') THEN 'waiting_date'"
    " ELSE 'running' END"
)
_WHERE = (
    " WHERE w.dag_id = ANY(%(types)s)"
    " AND (%(q)s::text IS NULL OR w.business_key ILIKE %(q)s)"
    " AND (%(started_from)s::timestamptz IS NULL OR w.created_at >= %(started_from)s)"
    " AND (%(started_to)s::timestamptz IS NULL OR w.created_at < %(started_to)s)"
    " AND (%(any_status)s OR w.status = ANY(%(ended)s)"
    f"      OR (w.status = 'running' AND ({_STATE}) = ANY(%(running)s)))"
    " AND (%(waiting_on)s::text IS NULL OR (w.status = 'running' AND ("
    f"      EXISTS ({_PENDING_OF_ROW} AND %(waiting_on)s = ANY(a.assignees))"
    f"      OR EXISTS ({_LIVE_OF_ROW} AND l.who = %(waiting_on)s))))"
    " AND (NOT %(overdue)s OR (w.status = 'running' AND ("
    f"      EXISTS ({_PENDING_OF_ROW} AND a.created_at < %(overdue_before)s)"
    f"      OR EXISTS ({_LIVE_OF_ROW} AND l.until_at < %(now)s))))"
)
_SELECT = (
    f"{_LIVE} SELECT w.workflow_id, w.dag_id, w.run_id, w.business_key, w.status, ({_STATE}), w.reason,"
    " w.created_at, w.updated_at FROM saga_workflows w" + _WHERE
)
_NEWEST = " ORDER BY w.created_at DESC, w.workflow_id DESC LIMIT %(limit)s OFFSET %(offset)s"
_OLDEST = " ORDER BY w.created_at, w.workflow_id LIMIT %(limit)s OFFSET %(offset)s"
_UPDATED = " ORDER BY w.updated_at DESC, w.workflow_id DESC LIMIT %(limit)s OFFSET %(offset)s"
_COUNT = f"{_LIVE} SELECT count(*) FROM saga_workflows w" + _WHERE


@dataclass(frozen=True)
class ListedWorkflow:
    workflow_id: str
    dag_id: str
    run_id: str
    business_key: str
    status: str
    state: str
    reason: str | None
    created_at: datetime
    updated_at: datetime


def params(
    filters: ListFilters, types: Sequence[str], waits: Sequence[ParkedWait], now: datetime
) -> dict[str, Any]:
    """The list query's parameters: the filters, the readable types, Airflow's parked waits as arrays."""
    live = [(w.dag_id, w.run_id, w.kind, who, w.until) for w in waits for who in (w.who or ("",))]
    started_from, started_to = filters.started_between()
    running = [s for s in ("running", *WAITING.values()) if filters.wants(s)] if filters.status else []
    return {
        "l_dag": [x[0] for x in live],
        "l_run": [x[1] for x in live],
        "l_kind": [x[2] for x in live],
        "l_who": [x[3] for x in live],
        "l_until": [x[4] for x in live],
        "types": list(types),
        "q": filters.search_pattern,
        "started_from": started_from,
        "started_to": started_to,
        "any_status": not filters.status,
        "ended": filters.ended_states(),
        "running": running,
        "waiting_on": filters.waiting_on,
        "overdue": filters.overdue,
        "overdue_before": now - timedelta(hours=filters.overdue_after_hours),
        "now": now,
        "limit": filters.page_size,
        "offset": filters.offset,
    }


def _select(cur: Any, filters: ListFilters, values: dict[str, Any]) -> None:
    if filters.order == "oldest":
        query = _SELECT + _OLDEST
    elif filters.order == "updated":
        query = _SELECT + _UPDATED
    else:
        query = _SELECT + _NEWEST
    cur.execute(query, values)


def page(cur: Any, filters: ListFilters, values: dict[str, Any]) -> tuple[list[ListedWorkflow], int]:
    """One page of the filtered list, and how many workflows the filter matches."""
    _select(cur, filters, values)
    rows = [ListedWorkflow(*row) for row in cur.fetchall()]
    if filters.page == 1 and len(rows) < filters.page_size:
        return rows, len(rows)
    cur.execute(_COUNT, values)
    return rows, int(cur.fetchone()[0])


def every_match(
    cur: Any, filters: ListFilters, values: dict[str, Any], batch: int
) -> Iterator[list[ListedWorkflow]]:
    """Every workflow the filter matches, in the list's order, ``batch`` at a time, from one server-side
    cursor (the caller's transaction: one snapshot however long the export takes)."""
    named = cur.connection.cursor(name="ep_workflows_export")
    named.itersize = batch
    _select(named, filters, {**values, "limit": None, "offset": 0})
    try:
        while rows := named.fetchmany(batch):
            yield [ListedWorkflow(*row) for row in rows]
    finally:
        named.close()


def types_present(cur: Any) -> list[str]:
    """The DAG ids that have workflows in the saga (a loose index scan: one probe per type)."""
    cur.execute(
        "WITH RECURSIVE t(dag_id) AS ((SELECT dag_id FROM saga_workflows ORDER BY dag_id LIMIT 1) UNION ALL"
        " SELECT (SELECT w.dag_id FROM saga_workflows w WHERE w.dag_id > t.dag_id ORDER BY w.dag_id LIMIT 1)"
        " FROM t WHERE t.dag_id IS NOT NULL) SELECT dag_id FROM t WHERE dag_id IS NOT NULL"
    )
    return [row[0] for row in cur.fetchall()]


def approvers_waited_on(cur: Any, types: Sequence[str]) -> list[str]:
    """Everyone a running workflow of ``types`` waits on for an approval."""
    cur.execute(
        "SELECT DISTINCT who FROM approval_requests a JOIN saga_workflows w ON w.workflow_id = a.workflow_id,"
        " unnest(a.assignees) AS who WHERE a.status = 'pending' AND a.dag_id = ANY(%s)"
        " AND w.status = 'running' ORDER BY who",
        (list(types),),
    )
    return [row[0] for row in cur.fetchall()]


# ------------------------------------------------------------------------------------------------ charts
@dataclass(frozen=True)
class StageTimes:
    """How long the workflows of one type spent at one stage: an approval (opened -> decided) or a step
    (from the workflow's previous step, or its start, to this one: what it waited for on the way)."""

    dag_id: str
    kind: str
    stage: str
    n: int
    seconds: tuple[float, float, float, float, float, float, float]
    """min, p10, p25, median, p75, p90, max"""


_QUANTILES = "percentile_cont(ARRAY[0, 0.1, 0.25, 0.5, 0.75, 0.9, 1]) WITHIN GROUP (ORDER BY secs)"
_STAGE_TIMES = (
    "WITH wf AS (SELECT workflow_id, dag_id, created_at FROM saga_workflows WHERE dag_id = ANY(%(types)s)"
    " AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s)"
    " AND (%(until)s::timestamptz IS NULL OR created_at < %(until)s)),"
    " x AS (SELECT wf.dag_id, 'approval' AS kind, a.stage, extract(epoch FROM a.decided_at - a.created_at)"
    " AS secs, extract(epoch FROM a.created_at - wf.created_at) AS at FROM wf JOIN approval_requests a"
    " ON a.workflow_id = wf.workflow_id WHERE a.decided_at >= a.created_at"
    " UNION ALL SELECT wf.dag_id, 'step', s.step, extract(epoch FROM s.done_at - coalesce(lag(s.done_at)"
    " OVER (PARTITION BY s.workflow_id ORDER BY s.seq), wf.created_at)),"
    " extract(epoch FROM s.done_at - wf.created_at) FROM wf"
    " JOIN saga_steps s ON s.workflow_id = wf.workflow_id)"
    f" SELECT dag_id, kind, stage, count(*), {_QUANTILES} FROM x WHERE secs >= 0"
    " GROUP BY dag_id, kind, stage ORDER BY dag_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY at), stage"
)


def stage_times(
    cur: Any, types: Sequence[str], since: datetime | None, until: datetime | None
) -> list[StageTimes]:
    cur.execute(_STAGE_TIMES, {"types": list(types), "since": since, "until": until})
    return [
        StageTimes(dag_id, kind, stage, int(n), tuple(float(v) for v in q))  # type: ignore[arg-type]
        for dag_id, kind, stage, n, q in cur.fetchall()
    ]


@dataclass(frozen=True)
class WeekCounts:
    week: datetime
    started: int
    completed: int
    compensated: int


def weekly(cur: Any, types: Sequence[str], since: datetime, until: datetime) -> list[WeekCounts]:
    """Workflows started, completed and compensated in each week (Monday 00:00 UTC) of [since, until);
    ``since`` is the start of a week."""
    cur.execute(
        "WITH weeks AS (SELECT generate_series(date_trunc('week', %(since)s::timestamptz AT TIME ZONE 'UTC'),"
        " %(until)s::timestamptz AT TIME ZONE 'UTC' - interval '1 microsecond', interval '1 week') AS week),"
        " started AS (SELECT date_trunc('week', created_at AT TIME ZONE 'UTC') AS week, count(*) AS n"
        " FROM saga_workflows WHERE dag_id = ANY(%(types)s)"
        " AND created_at >= %(since)s AND created_at < %(until)s"
        " GROUP BY 1),"
        " ended AS (SELECT date_trunc('week', updated_at AT TIME ZONE 'UTC') AS week,"
        " count(*) FILTER (WHERE status = 'completed') AS completed,"
        " count(*) FILTER (WHERE status = 'compensated') AS compensated FROM saga_workflows"
        " WHERE dag_id = ANY(%(types)s) AND status IN ('completed', 'compensated')"
        " AND updated_at >= %(since)s AND updated_at < %(until)s GROUP BY 1)"
        " SELECT weeks.week, coalesce(started.n, 0), coalesce(ended.completed, 0),"
        " coalesce(ended.compensated, 0)"
        " FROM weeks LEFT JOIN started USING (week) LEFT JOIN ended USING (week) ORDER BY weeks.week",
        {"types": list(types), "since": since, "until": until},
    )
    return [WeekCounts(week, int(s), int(c), int(k)) for week, s, c, k in cur.fetchall()]


# Age buckets of a waiting approval, upper bounds in hours (the last one open).
AGE_BUCKETS = (("under 1 day", 24.0), ("1-2 days", 48.0), ("2-7 days", 168.0), ("over 7 days", None))


@dataclass(frozen=True)
class ApproverAges:
    approver: str
    counts: tuple[int, ...]
    """pending approvals per AGE_BUCKETS bucket"""


def approvals_waiting(cur: Any, types: Sequence[str], now: datetime) -> list[ApproverAges]:
    """Approvals waiting now, by approver and age (an approval assigned to two people counts for each)."""
    cur.execute(
        "SELECT coalesce(who, 'unassigned'),"
        " count(*) FILTER (WHERE a.created_at > %(now)s - interval '24 hours'),"
        " count(*) FILTER (WHERE a.created_at <= %(now)s - interval '24 hours'"
        "   AND a.created_at > %(now)s - interval '48 hours'),"
        " count(*) FILTER (WHERE a.created_at <= %(now)s - interval '48 hours'"
        "   AND a.created_at > %(now)s - interval '168 hours'),"
        " count(*) FILTER (WHERE a.created_at <= %(now)s - interval '168 hours')"
        " FROM approval_requests a JOIN saga_workflows w ON w.workflow_id = a.workflow_id"
        " LEFT JOIN LATERAL unnest(a.assignees) AS who ON true"
        " WHERE a.status = 'pending' AND a.dag_id = ANY(%(types)s) AND w.status = 'running'"
        " GROUP BY 1 ORDER BY count(*) DESC, 1",
        {"types": list(types), "now": now},
    )
    return [ApproverAges(who, tuple(int(n) for n in counts)) for who, *counts in cur.fetchall()]


# ------------------------------------------------------------------------------------------ evidence packs
@dataclass(frozen=True)
class EvidencePack:
    """An evidence pack of the workflow: sealed by it, or built by ``evidence_pack`` with it as subject."""

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


def evidence_packs(cur: Any, workflow_id: str) -> list[EvidencePack]:
    cur.execute(
        "SELECT 'sealed by the workflow', deal_id, NULL::timestamptz, NULL::int, manifest_sha256,"
        " document_sha256, NULL::text, created_at, 0, NULL::text FROM evidence_packs"
        " WHERE workflow_id = %(wf)s UNION ALL SELECT 'evidence_pack build ' || pack_id,"
        " subject_type || ' ' || subject_id, as_of, item_count, manifest_sha256, pdf_sha256, json_sha256,"
        " built_at, rebuilds, mismatch_sha256 FROM evidence_pack_builds"
        " WHERE (subject_type = 'workflow' AND subject_id = %(wf)s) OR workflow_id = %(wf)s ORDER BY 8",
        {"wf": workflow_id},
    )
    return [EvidencePack(*row) for row in cur.fetchall()]
