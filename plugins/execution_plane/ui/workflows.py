"""The Workflows page's answers, for one user: the list, one workflow, the charts, the CSV.

Each answer reads Airflow first (the DAGs the user may read: ``get_authorized_dag_ids``, the same decision
as Airflow's own DAG list; what their running runs are parked on: ``parked``), then the business database
in ONE read-only REPEATABLE READ transaction, so every figure of an answer comes from the same snapshot.
Only the workflows of readable DAGs of the durable and medium-lived classes are ever read or counted.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any, TypeVar
from urllib.parse import quote

from execution_plane.catalog import WorkflowClass, by_dag_id
from execution_plane.saga import records
from execution_plane.saga.keys import WORKFLOW_ID_PATTERN, compensation_run_id, split_workflow_id
from execution_plane.services import dashboard, db
from execution_plane.services.errors import ServiceError
from execution_plane.ui import queries
from execution_plane.ui.filters import DEFAULT_OVERDUE_AFTER_HOURS, FilterError, ListFilters
from execution_plane.ui.models import (
    ApproverWaiting,
    AuditEntry,
    Charts,
    Document,
    EvidencePack,
    LinkedWorkflow,
    StageDurations,
    TimelineEntry,
    Wait,
    WeekFigures,
    WorkflowDetail,
    WorkflowItem,
    WorkflowList,
    WorkflowType,
)
from execution_plane.ui.parked import ParkedWait, parked_waits
from execution_plane.ui.states import LABELS, WAITING, state_of
from include.services.dashboard import windows

T = TypeVar("T")
COMPENSATION_DAG = "saga_compensation"
EXPORT_BATCH = 2000


@dataclass(frozen=True)
class Links:
    """Where the page's links point: Airflow's UI (``airflow``: its base path) and this app (``page``)."""

    airflow: str
    page: str

    def run(self, dag_id: str, run_id: str) -> str:
        return f"{self.airflow}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe=':')}"

    def workflow(self, workflow_id: str) -> str:
        return f"{self.page}/w/{quote(workflow_id, safe=':')}"


class Timer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    def __call__(self, name: str, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return work()
        finally:
            self.ms[name] = round((time.perf_counter() - started) * 1000, 2)


def readable_dag_ids(user: Any) -> frozenset[str]:
    """The DAGs the auth manager lets ``user`` read (Airflow's own DAG list makes the same call)."""
    from airflow.api_fastapi.app import get_auth_manager

    return frozenset(get_auth_manager().get_authorized_dag_ids(user=user, method="GET"))


def _snapshot(cur: Any) -> None:
    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def workflow_types(cur: Any, readable: Collection[str]) -> list[WorkflowType]:
    """The types with workflows that the user may read, short-lived services left out."""
    found = []
    for dag_id in queries.types_present(cur):
        if dag_id not in readable:
            continue
        try:
            record = by_dag_id(dag_id)
        except KeyError:  # a DAG the inventory does not list (a test or a bench DAG): shown as it is
            found.append(WorkflowType(dag_id=dag_id, name=dag_id, workflow_class=None))
            continue
        if record.workflow_class is WorkflowClass.SHORT_LIVED_LOCAL:
            continue
        found.append(
            WorkflowType(dag_id=dag_id, name=record.name, workflow_class=record.workflow_class.value)
        )
    return sorted(found, key=lambda t: t.name.lower())


def _selected(types: Sequence[WorkflowType], filters: ListFilters) -> list[str]:
    known = {t.dag_id for t in types}
    for dag_id in filters.type:
        if dag_id not in known:
            raise FilterError("type", f"{dag_id!r} is not a workflow type you may read")
    return list(filters.type) or sorted(known)


# ------------------------------------------------------------------------------------------------- rows
class Context:
    """What turning listed rows into items needs: the waits and activity of those rows, one read each."""

    def __init__(
        self,
        waits: Sequence[ParkedWait],
        names: dict[str, str],
        links: Links,
        now: datetime,
        overdue_h: float,
    ) -> None:
        self.parked: dict[tuple[str, str], list[ParkedWait]] = defaultdict(list)
        for wait in waits:
            self.parked[(wait.dag_id, wait.run_id)].append(wait)
        self.names = names
        self.links = links
        self.now = now
        self.overdue_before = now - timedelta(hours=overdue_h)

    def items(self, cur: Any, rows: Sequence[queries.ListedWorkflow]) -> list[WorkflowItem]:
        ids = [r.workflow_id for r in rows]
        pending: dict[str, list[records.ApprovalRecord]] = defaultdict(list)
        for approval in records.approvals(cur, ids, pending_only=True):
            pending[approval.workflow_id].append(approval)
        latest = records.latest_activity(cur, ids)
        return [self.item(r, pending[r.workflow_id], latest.get(r.workflow_id)) for r in rows]

    def waits(self, row: queries.ListedWorkflow, pending: Sequence[records.ApprovalRecord]) -> list[Wait]:
        if row.status != "running":
            return []
        parked = self.parked.get((row.dag_id, row.run_id), [])
        asked = {w.task_id: w for w in parked if w.kind == "person"}
        found = []
        for a in pending:
            until = asked.pop(a.task_id).until if a.task_id in asked else None
            overdue = a.created_at < self.overdue_before or (until is not None and until < self.now)
            found.append(
                Wait(
                    kind="person",
                    stage=a.stage,
                    who=list(a.assignees),
                    label="approval",
                    since=a.created_at,
                    expires_at=until,
                    overdue=overdue,
                )
            )
        for w in parked:
            if w.kind == "person" and w.task_id not in asked:
                continue  # the approval above
            overdue = (w.until is not None and w.until < self.now) or (
                w.kind == "person" and w.since is not None and w.since < self.overdue_before
            )
            found.append(
                Wait(
                    kind=w.kind,
                    stage=w.task_id,
                    who=list(w.who),
                    label=w.label,
                    since=w.since,
                    expires_at=w.until,
                    overdue=overdue,
                )
            )
        return found

    def item(
        self,
        row: queries.ListedWorkflow,
        pending: Sequence[records.ApprovalRecord],
        latest: records.LatestActivity | None,
    ) -> WorkflowItem:
        waits = self.waits(row, pending)
        current = [
            w for kind, state in WAITING.items() if state == row.state for w in waits if w.kind == kind
        ]
        since = [w.since for w in current if w.since is not None]
        until = [w.expires_at for w in current if w.expires_at is not None]
        stage = ", ".join(dict.fromkeys(w.stage for w in current)) or (latest.name if latest else None)
        return WorkflowItem(
            workflow_id=row.workflow_id,
            dag_id=row.dag_id,
            type_name=self.names.get(row.dag_id, row.dag_id),
            business_key=row.business_key,
            status=row.status,
            state=row.state,
            state_label=LABELS[row.state],
            stage=stage,
            waits=waits,
            waiting_since=min(since) if since else None,
            expires_at=min(until) if until else None,
            overdue=any(w.overdue for w in waits),
            reason=row.reason,
            run_id=row.run_id,
            run_url=self.links.run(row.dag_id, row.run_id),
            url=self.links.workflow(row.workflow_id),
            started_at=row.created_at,
            updated_at=row.updated_at,
        )


def _start(user: Any, timer: Timer) -> tuple[frozenset[str], list[ParkedWait]]:
    readable = timer("auth_ms", lambda: readable_dag_ids(user))
    waits = timer("airflow_waits_ms", lambda: parked_waits(readable))
    return readable, waits


def list_page(user: Any, filters: ListFilters, links: Links) -> WorkflowList:
    timer = Timer()
    now = datetime.now(UTC)
    readable, waits = _start(user, timer)

    def work(cur: Any) -> WorkflowList:
        _snapshot(cur)
        types = timer("types_ms", lambda: workflow_types(cur, readable))
        selected = _selected(types, filters)
        values = queries.params(filters, selected, waits, now)
        rows, total = timer("list_ms", lambda: queries.page(cur, filters, values))
        context = Context(waits, {t.dag_id: t.name for t in types}, links, now, filters.overdue_after_hours)
        items = timer("rows_ms", lambda: context.items(cur, rows))
        approvers = timer("options_ms", lambda: queries.approvers_waited_on(cur, selected))
        on_parked = {who for w in waits if w.dag_id in selected for who in w.who if who}
        overview = dashboard.workflow_figures(
            cur,
            windows(now, overdue_after_hours=filters.overdue_after_hours),
            dag_ids=selected,
            timed=lambda name, query: timer(f"overview_{name}_ms", query),
        )
        return WorkflowList(
            total=total,
            page=filters.page,
            page_size=filters.page_size,
            pages=max(1, -(-total // filters.page_size)),
            items=items,
            types=types,
            waiting_on=sorted(set(approvers) | on_parked),
            overview=overview,
            query_ms=timer.ms,
        )

    return db.transaction(work)


# ---------------------------------------------------------------------------------------------- export
CSV_COLUMNS = (
    "workflow_id",
    "type",
    "business_key",
    "state",
    "saga_status",
    "stage",
    "waits_on",
    "waiting_since",
    "expires_at",
    "overdue",
    "started_at",
    "updated_at",
    "reason",
    "airflow_run",
)


def _cell(value: Any) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_row(item: WorkflowItem) -> list[str]:
    waits = "; ".join(f"{w.kind}: {', '.join(w.who) or w.label} ({w.stage})" for w in item.waits)
    values = (
        item.workflow_id,
        item.type_name,
        item.business_key,
        item.state_label,
        item.status,
        item.stage,
        waits,
        item.waiting_since,
        item.expires_at,
        "yes" if item.overdue else "no",
        item.started_at,
        item.updated_at,
        item.reason,
        item.run_url,
    )
    return [_cell(v) for v in values]


def export(user: Any, filters: ListFilters, links: Links) -> tuple[IO[bytes], int]:
    """The whole filtered list (every page, the list's order) as CSV in a temporary file, and its rows."""
    now = datetime.now(UTC)
    readable, waits = _start(user, Timer())
    out = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115 (streamed, then closed)

    def work(cur: Any) -> int:
        _snapshot(cur)
        types = workflow_types(cur, readable)
        values = queries.params(filters, _selected(types, filters), waits, now)
        context = Context(waits, {t.dag_id: t.name for t in types}, links, now, filters.overdue_after_hours)
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text)
        writer.writerow(CSV_COLUMNS)
        written = 0
        # A second cursor reads each batch's approvals and activity while the export's cursor stays open.
        with cur.connection.cursor() as side:
            for batch in queries.every_match(cur, filters, values, EXPORT_BATCH):
                writer.writerows(csv_row(item) for item in context.items(side, batch))
                written += len(batch)
        text.detach()
        return written

    try:
        rows = db.transaction(work)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out, rows


def chunks(file: IO[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    try:
        while chunk := file.read(size):
            yield chunk
    finally:
        file.close()


# --------------------------------------------------------------------------------------------- one workflow
def _linked(row: records.WorkflowRow, links: Links) -> LinkedWorkflow:
    return LinkedWorkflow(
        workflow_id=row.workflow_id,
        dag_id=row.dag_id,
        business_key=row.business_key,
        status=row.status,
        started_at=row.created_at,
        url=links.workflow(row.workflow_id),
    )


def timeline(
    row: records.WorkflowRow,
    steps: Sequence[records.StepRecord],
    approvals: Sequence[records.ApprovalRecord],
    events: Sequence[records.EventRecord],
    documents: Sequence[records.DocumentRecord],
) -> list[TimelineEntry]:
    """What happened to the workflow, oldest first: its start, each side effect, each approval asked and
    answered (who, what, their comment), each outside event, each document, each undo, its end."""
    entries = [TimelineEntry(at=row.created_at, kind="started", title="workflow started", detail=row.run_id)]
    for s in steps:
        entries.append(
            TimelineEntry(
                at=s.done_at,
                kind="step",
                title=s.step,
                detail=s.side_effect + (f" (undo: {s.compensation_action})" if s.compensation_action else ""),
                status="done",
                sha256=s.result_sha256,
            )
        )
        if s.status != "done":
            entries.append(
                TimelineEntry(
                    at=s.compensated_at or row.updated_at,
                    kind="compensation",
                    title=f"undo {s.compensation_action or s.step}",
                    detail=s.compensation_reason,
                    status=s.status,
                )
            )
    for a in approvals:
        entries.append(
            TimelineEntry(
                at=a.created_at,
                kind="approval",
                title=f"approval asked: {a.stage}",
                who=", ".join(a.assignees),
                status="pending" if a.status == "pending" else "asked",
            )
        )
        if a.status != "pending":
            entries.append(
                TimelineEntry(
                    at=a.decided_at or a.created_at,
                    kind="decision",
                    title=f"{a.stage}: {a.status}",
                    detail=a.comment or None,
                    who=a.decided_by or ("nobody (it expired)" if a.status == "expired" else None),
                    status=a.status,
                )
            )
    for e in events:
        entries.append(
            TimelineEntry(
                at=e.received_at,
                kind="event",
                title=e.event_type,
                detail=f"from {e.source}, key {e.correlation_key}, event {e.event_id}",
                sha256=e.payload_sha256,
            )
        )
    for d in documents:
        entries.append(
            TimelineEntry(at=d.created_at, kind="document", title=f"document: {d.kind}", sha256=d.sha256)
        )
    if row.status != "running":
        entries.append(
            TimelineEntry(at=row.updated_at, kind="ended", title=f"workflow {row.status}", detail=row.reason)
        )
    order = {"started": 0, "approval": 1, "event": 2, "step": 3, "document": 4, "decision": 5}
    return sorted(entries, key=lambda e: (e.at, order.get(e.kind, 6)))


def workflow_page(user: Any, workflow_id: str, links: Links) -> WorkflowDetail:
    if not re.match(WORKFLOW_ID_PATTERN, workflow_id):
        raise ServiceError(
            422, "invalid_request", "not a workflow id (<dag_id>:<request_id>)", field="workflow_id"
        )
    timer = Timer()
    now = datetime.now(UTC)
    readable, waits = _start(user, timer)
    not_found = ServiceError(404, "not_found", f"no workflow {workflow_id} you may read", field="workflow_id")
    if split_workflow_id(workflow_id)[0] not in readable:
        raise not_found

    def work(cur: Any) -> WorkflowDetail:
        _snapshot(cur)
        types = workflow_types(cur, readable)
        row = records.workflow_row(cur, workflow_id)
        if row is None or row.dag_id not in {t.dag_id for t in types}:
            raise not_found
        context = Context(waits, {t.dag_id: t.name for t in types}, links, now, DEFAULT_OVERDUE_AFTER_HOURS)
        pending = records.approvals(cur, [workflow_id], pending_only=True)
        listed = queries.ListedWorkflow(
            row.workflow_id,
            row.dag_id,
            row.run_id,
            row.business_key,
            row.status,
            row.status,
            row.reason,
            row.created_at,
            row.updated_at,
        )
        state = state_of(row.status, {w.kind for w in context.waits(listed, pending)})
        latest = records.latest_activity(cur, [workflow_id]).get(workflow_id)
        item = context.item(dataclasses.replace(listed, state=state), pending, latest)
        steps = timer("steps_ms", lambda: records.workflow_steps(cur, workflow_id))
        approvals = timer("approvals_ms", lambda: records.approvals(cur, [workflow_id]))
        events = timer("events_ms", lambda: records.workflow_events(cur, workflow_id))
        documents = timer("documents_ms", lambda: records.workflow_documents(cur, workflow_id))
        packs = timer("evidence_ms", lambda: queries.evidence_packs(cur, workflow_id))
        audit = timer("audit_ms", lambda: records.workflow_audit(cur, workflow_id))
        relatives = timer(
            "relatives_ms",
            lambda: (records.parent_workflow(cur, row.run_id), records.child_workflows(cur, workflow_id)),
        )
        parent, children = relatives
        shown_parent = parent if parent is not None and parent.dag_id in readable else None
        shown_children = [c for c in children if c.dag_id in readable]
        hidden = (parent is not None and shown_parent is None) + len(children) - len(shown_children)
        return WorkflowDetail(
            workflow=item,
            compensation_run_url=(
                links.run(COMPENSATION_DAG, row.compensation_run_id or compensation_run_id(workflow_id))
                if row.status in ("compensating", "compensated", "compensation_failed")
                or row.compensation_run_id
                else None
            ),
            parent=_linked(shown_parent, links) if shown_parent else None,
            children=[_linked(c, links) for c in shown_children],
            hidden_relatives=hidden,
            timeline=timeline(row, steps, approvals, events, documents),
            documents=[Document(**vars(d)) for d in documents],
            evidence_packs=[EvidencePack(**vars(p)) for p in packs],
            audit=[
                AuditEntry(
                    id=a.id,
                    at=a.at,
                    actor=a.actor,
                    action=a.action,
                    details=a.details,
                    prev_hash=a.prev_hash,
                    hash=a.hash,
                    intact=a.intact,
                    problems=list(a.problems),
                )
                for a in audit
            ],
            audit_intact=all(a.intact for a in audit),
            query_ms=timer.ms,
        )

    return db.transaction(work)


# ------------------------------------------------------------------------------------------------ charts
DEFAULT_WEEKS = 12


def chart_period(filters: ListFilters, now: datetime) -> tuple[datetime, datetime]:
    """[since, until): whole weeks from the Monday of ``started_from`` (default: the last 12 weeks) to the
    end of ``started_to`` (default: now)."""
    start, end = filters.started_between()
    end = end or now
    start = start or end - timedelta(weeks=DEFAULT_WEEKS)
    monday = datetime.combine((start - timedelta(days=start.weekday())).date(), datetime.min.time(), UTC)
    return monday, end


def charts(user: Any, filters: ListFilters) -> Charts:
    timer = Timer()
    now = datetime.now(UTC)
    readable = timer("auth_ms", lambda: readable_dag_ids(user))
    since, until = chart_period(filters, now)

    def work(cur: Any) -> Charts:
        _snapshot(cur)
        types = timer("types_ms", lambda: workflow_types(cur, readable))
        selected = _selected(types, filters)
        names = {t.dag_id: t.name for t in types}
        stages = timer("stage_times_ms", lambda: queries.stage_times(cur, selected, since, until))
        weeks = timer("weekly_ms", lambda: queries.weekly(cur, selected, since, until))
        waiting = timer("approvals_ms", lambda: queries.approvals_waiting(cur, selected, now))
        return Charts(
            since=since,
            until=until,
            types=types,
            stage_durations=[
                StageDurations(
                    dag_id=s.dag_id,
                    type_name=names.get(s.dag_id, s.dag_id),
                    kind=s.kind,
                    stage=s.stage,
                    n=s.n,
                    **dict(zip(("min", "p10", "p25", "median", "p75", "p90", "max"), s.seconds, strict=True)),
                )
                for s in stages
            ],
            weeks=[WeekFigures(**vars(w)) for w in weeks],
            approvals_waiting=[
                ApproverWaiting(
                    approver=a.approver,
                    by_age={name: n for (name, _), n in zip(queries.AGE_BUCKETS, a.counts, strict=True)},
                    total=sum(a.counts),
                )
                for a in waiting
            ],
            query_ms=timer.ms,
        )

    return db.transaction(work)
