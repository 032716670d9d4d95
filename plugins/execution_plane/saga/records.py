"""A workflow's records, read from the ledger: what an evidence pack or an analyst's timeline is made of.

Every record is (kind, ref, sha256, at): the documents it stored, each step with a digest of its stored
result, each approval decision, each audit-log row, each outside event of its correlation keys and each
message it sent. Read through this module only: workflows never query the toolkit's tables themselves.
The reads at the end (steps with their undos, decisions, row ages) are what the compliance checks look at.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from execution_plane.saga.keys import canonical_json


@dataclass(frozen=True)
class Record:
    kind: str
    ref: str
    sha256: str
    at: datetime


def canonical_digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def step_done_at(cur: Any, workflow_id: str, step: str) -> datetime | None:
    """When the step was recorded done, or None."""
    cur.execute("SELECT done_at FROM saga_steps WHERE workflow_id = %s AND step = %s", (workflow_id, step))
    row = cur.fetchone()
    return row[0] if row else None


def workflow_records(
    cur: Any,
    workflow_id: str,
    *,
    until: datetime,
    correlation_keys: Sequence[str] = (),
    exclude_document_kinds: Sequence[str] = (),
    digest: Callable[[Any], str] = canonical_digest,
) -> list[Record]:
    """Everything the workflow recorded up to ``until`` (inclusive): a re-read gives the same records.

    Documents and audit rows carry their own sha256; a step's stored result, a decision and an event's
    payload are hashed with ``digest`` (the caller's canonical form, so its manifests stay its own)."""
    return records_as_of(
        cur,
        [workflow_id],
        until=until,
        correlation_keys=correlation_keys,
        exclude_document_kinds=exclude_document_kinds,
        digest=digest,
    )


def records_as_of(
    cur: Any,
    workflow_ids: Sequence[str],
    *,
    until: datetime,
    correlation_keys: Sequence[str] = (),
    correlation_prefixes: Sequence[str] = (),
    exclude_document_kinds: Sequence[str] = (),
    messages: bool = False,
    digest: Callable[[Any], str] = canonical_digest,
) -> list[Record]:
    """The records of several workflows as they stood at ``until`` (inclusive), from the tables that hold
    them: ``documents``, ``saga_steps`` with their results (``idempotency_keys``), ``approval_requests``,
    ``audit_log``, ``external_events`` (by correlation key, or every key under a prefix: ``<prefix>:...``)
    and, with ``messages``, ``outbound_messages``.

    As of ``until``: a decision taken after it reads as still pending and a message sent after it as still
    sending, so reading the same scope again later gives the same records unless one was altered or
    removed (what an evidence pack's rebuild checks)."""
    ids = list(workflow_ids)
    records: list[Record] = []
    cur.execute(
        "SELECT kind, uri, sha256, created_at FROM documents WHERE workflow_id = ANY(%s)"
        " AND NOT (kind = ANY(%s)) AND created_at <= %s",
        (ids, list(exclude_document_kinds), until),
    )
    records += [Record(f"document:{kind}", uri, sha, at) for kind, uri, sha, at in cur.fetchall()]
    cur.execute(
        "SELECT s.side_effect, s.step, k.result, s.done_at FROM saga_steps s"
        " JOIN idempotency_keys k ON k.key = s.idempotency_key WHERE s.workflow_id = ANY(%s)"
        " AND s.done_at <= %s",
        (ids, until),
    )
    records += [
        Record(f"step:{effect}", step, digest(result), at) for effect, step, result, at in cur.fetchall()
    ]
    cur.execute(
        "SELECT request_id, stage, CASE WHEN decided_at <= %(until)s THEN status ELSE 'pending' END,"
        " CASE WHEN decided_at <= %(until)s THEN decided_by END,"
        " CASE WHEN decided_at <= %(until)s THEN comment END,"
        " CASE WHEN decided_at <= %(until)s THEN decided_at ELSE created_at END"
        " FROM approval_requests WHERE workflow_id = ANY(%(ids)s) AND created_at <= %(until)s",
        {"ids": ids, "until": until},
    )
    records += [
        Record(f"decision:{stage}", request_id, digest([request_id, status, by, comment]), at)
        for request_id, stage, status, by, comment, at in cur.fetchall()
    ]
    cur.execute(
        "SELECT id, action, hash, at FROM audit_log WHERE workflow_id = ANY(%s) AND at <= %s", (ids, until)
    )
    records += [
        Record(f"audit:{action}", f"audit_log:{row_id}", row_hash, at)
        for row_id, action, row_hash, at in cur.fetchall()
    ]
    if correlation_keys or correlation_prefixes:
        cur.execute(
            "SELECT event_id, event_type, payload, received_at FROM external_events e"
            " WHERE received_at <= %s AND (correlation_key = ANY(%s) OR EXISTS (SELECT 1 FROM"
            " unnest(%s::text[]) p WHERE left(e.correlation_key, length(p) + 1) = p || ':'))",
            (until, list(correlation_keys), list(correlation_prefixes)),
        )
        records += [
            Record(f"event:{event_type}", event_id, digest(payload), at)
            for event_id, event_type, payload, at in cur.fetchall()
        ]
    if messages:
        cur.execute(
            "SELECT message_id, channel, recipient, template, body_sha256,"
            " CASE WHEN sent_at <= %(until)s THEN status ELSE 'sending' END, created_at"
            " FROM outbound_messages WHERE workflow_id = ANY(%(ids)s) AND created_at <= %(until)s",
            {"ids": ids, "until": until},
        )
        records += [
            Record(f"message:{channel}", mid, digest([mid, channel, to, template, body_sha, status]), at)
            for mid, channel, to, template, body_sha, status, at in cur.fetchall()
        ]
    return records


# ----------------------------------------------------------------------------- reads for compliance checks
@dataclass(frozen=True)
class LedgerStep:
    """A recorded step of a workflow, with the workflow's state: what a compensation check looks at."""

    workflow_id: str
    dag_id: str
    workflow_status: str
    workflow_updated_at: datetime
    compensation_run_id: str | None
    step: str
    side_effect: str
    compensation_action: str | None
    status: str
    done_at: datetime


def ledger_steps(cur: Any, *, dag_ids: Sequence[str], since: datetime) -> list[LedgerStep]:
    """Every recorded step of the workflows of ``dag_ids`` touched since ``since`` (oldest first)."""
    cur.execute(
        "SELECT w.workflow_id, w.dag_id, w.status, w.updated_at, w.compensation_run_id, s.step,"
        " s.side_effect, s.compensation_action, s.status, s.done_at FROM saga_workflows w"
        " JOIN saga_steps s ON s.workflow_id = w.workflow_id"
        " WHERE w.dag_id = ANY(%s) AND w.updated_at >= %s ORDER BY w.workflow_id, s.seq",
        (list(dag_ids), since),
    )
    return [LedgerStep(*row) for row in cur.fetchall()]


@dataclass(frozen=True)
class Decision:
    """An answered (or expired) approval request: who could decide it and who did."""

    request_id: str
    workflow_id: str
    stage: str
    assignees: tuple[str, ...]
    status: str
    decided_by: str | None
    decided_at: datetime | None


def decisions_since(cur: Any, since: datetime) -> list[Decision]:
    """Every approval request decided (or expired) since ``since``, oldest first."""
    cur.execute(
        "SELECT request_id, workflow_id, stage, assignees, status, decided_by, decided_at"
        " FROM approval_requests WHERE status <> 'pending' AND decided_at >= %s ORDER BY decided_at",
        (since,),
    )
    return [
        Decision(rid, wf, stage, tuple(assignees or ()), status, by, at)
        for rid, wf, stage, assignees, status, by, at in cur.fetchall()
    ]


@dataclass(frozen=True)
class RowAges:
    rows: int
    older: int
    oldest: datetime | None


def aged_rows(cur: Any, table: str, clock: str, older_than: datetime) -> RowAges:
    """How many rows ``table`` holds, how many have ``clock`` before ``older_than`` and the oldest of those:
    what a retention policy checks. Names are quoted identifiers, never SQL text."""
    from psycopg2 import sql

    query = sql.SQL(
        "SELECT count(*), count(*) FILTER (WHERE {clock} < %s), min({clock}) FILTER (WHERE {clock} < %s)"
        " FROM {table}"
    ).format(table=sql.Identifier(table), clock=sql.Identifier(clock))
    cur.execute(query, (older_than, older_than))
    rows, older, oldest = cur.fetchone()
    return RowAges(int(rows), int(older), oldest)


# ----------------------------------------------------------------------------- one workflow, for a person
# What the Workflows page shows of one workflow (execution_plane.ui): its row, its steps with their undos,
# its approvals with who decided what, the outside events of its correlation keys, its documents, its audit
# entries with their links checked, and the workflows it started or was started by. Read-only.
@dataclass(frozen=True)
class WorkflowRow:
    workflow_id: str
    dag_id: str
    run_id: str
    business_key: str
    status: str
    reason: str | None
    compensation_run_id: str | None
    created_at: datetime
    updated_at: datetime


_WORKFLOW_COLUMNS = (
    "workflow_id, dag_id, run_id, business_key, status, reason, compensation_run_id, created_at, updated_at"
)


def workflow_row(cur: Any, workflow_id: str) -> WorkflowRow | None:
    cur.execute(f"SELECT {_WORKFLOW_COLUMNS} FROM saga_workflows WHERE workflow_id = %s", (workflow_id,))
    row = cur.fetchone()
    return WorkflowRow(*row) if row else None


@dataclass(frozen=True)
class StepRecord:
    """A recorded side effect, and its undo when it was compensated."""

    seq: int
    step: str
    side_effect: str
    status: str
    compensation_action: str | None
    compensation_reason: str | None
    done_at: datetime
    compensated_at: datetime | None
    idempotency_key: str
    result_sha256: str | None


def workflow_steps(cur: Any, workflow_id: str) -> list[StepRecord]:
    """The workflow's steps in the order they were recorded, each with a digest of its stored result."""
    cur.execute(
        "SELECT s.seq, s.step, s.side_effect, s.status, s.compensation_action, s.compensation_reason,"
        " s.done_at, s.compensated_at, s.idempotency_key, k.result FROM saga_steps s"
        " LEFT JOIN idempotency_keys k ON k.key = s.idempotency_key WHERE s.workflow_id = %s ORDER BY s.seq",
        (workflow_id,),
    )
    return [
        StepRecord(
            seq=seq,
            step=step,
            side_effect=effect,
            status=status,
            compensation_action=action,
            compensation_reason=reason,
            done_at=done_at,
            compensated_at=compensated_at,
            idempotency_key=key,
            result_sha256=None if result is None else canonical_digest(result),
        )
        for seq, step, effect, status, action, reason, done_at, compensated_at, key, result in cur.fetchall()
    ]


@dataclass(frozen=True)
class ApprovalRecord:
    request_id: str
    workflow_id: str
    stage: str
    task_id: str
    assignees: tuple[str, ...]
    status: str
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None
    created_at: datetime


_APPROVAL_COLUMNS = (
    "request_id, workflow_id, stage, task_id, assignees, status, decision, decided_by, decided_at, comment,"
    " created_at"
)


def _approvals(rows: Sequence[Sequence[Any]]) -> list[ApprovalRecord]:
    return [
        ApprovalRecord(
            request_id=rid,
            workflow_id=wf,
            stage=stage,
            task_id=task_id,
            assignees=tuple(assignees or ()),
            status=status,
            decision=decision,
            decided_by=by,
            decided_at=at,
            comment=comment,
            created_at=created_at,
        )
        for rid, wf, stage, task_id, assignees, status, decision, by, at, comment, created_at in rows
    ]


def approvals(cur: Any, workflow_ids: Sequence[str], *, pending_only: bool = False) -> list[ApprovalRecord]:
    """The approval requests of ``workflow_ids`` (only those still waiting, with ``pending_only``), in the
    order they were opened."""
    cur.execute(
        f"SELECT {_APPROVAL_COLUMNS} FROM approval_requests WHERE workflow_id = ANY(%s)"
        " AND (NOT %s OR status = 'pending') ORDER BY created_at, request_id",
        (list(workflow_ids), pending_only),
    )
    return _approvals(cur.fetchall())


@dataclass(frozen=True)
class LatestActivity:
    """The newest thing a workflow's ledger recorded: a step done or an approval decided."""

    workflow_id: str
    name: str
    at: datetime


def latest_activity(cur: Any, workflow_ids: Sequence[str]) -> dict[str, LatestActivity]:
    cur.execute(
        "SELECT DISTINCT ON (workflow_id) workflow_id, name, at FROM ("
        " SELECT workflow_id, step AS name, greatest(done_at, compensated_at) AS at FROM saga_steps"
        " WHERE workflow_id = ANY(%(ids)s)"
        " UNION ALL SELECT workflow_id, stage, decided_at FROM approval_requests"
        " WHERE workflow_id = ANY(%(ids)s) AND decided_at IS NOT NULL) a"
        " ORDER BY workflow_id, at DESC, name",
        {"ids": list(workflow_ids)},
    )
    return {wf: LatestActivity(wf, name, at) for wf, name, at in cur.fetchall()}


@dataclass(frozen=True)
class EventRecord:
    event_id: str
    source: str
    event_type: str
    correlation_key: str
    received_at: datetime
    payload_sha256: str


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching what starts with ``prefix`` (its own wildcards escaped)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def workflow_events(cur: Any, workflow_id: str) -> list[EventRecord]:
    """The outside events of the workflow's correlation keys (``saga.keys.correlation_key``: the workflow id
    itself, or the workflow id and a wait's parts), its own outcome included, oldest first."""
    cur.execute(
        "SELECT event_id, source, event_type, correlation_key, received_at, payload FROM external_events"
        " WHERE correlation_key = %s OR correlation_key LIKE %s ORDER BY received_at, event_id",
        (workflow_id, _like_prefix(f"{workflow_id}:")),
    )
    return [
        EventRecord(event_id, source, event_type, key, received_at, canonical_digest(payload))
        for event_id, source, event_type, key, received_at, payload in cur.fetchall()
    ]


@dataclass(frozen=True)
class DocumentRecord:
    sha256: str
    kind: str
    uri: str
    size_bytes: int
    created_at: datetime


def workflow_documents(cur: Any, workflow_id: str) -> list[DocumentRecord]:
    cur.execute(
        "SELECT sha256, kind, uri, size_bytes, created_at FROM documents WHERE workflow_id = %s"
        " ORDER BY created_at, sha256",
        (workflow_id,),
    )
    return [DocumentRecord(*row) for row in cur.fetchall()]


@dataclass(frozen=True)
class AuditRecord:
    """An audit-log row of the workflow and whether its links hold: its hash covers its content and the
    previous row's hash, and the next row (if any) names it as its previous."""

    id: int
    at: datetime
    actor: str
    action: str
    details: Any
    prev_hash: str
    hash: str
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


def workflow_audit(cur: Any, workflow_id: str) -> list[AuditRecord]:
    """The workflow's audit rows, each checked against its neighbours in the chain (the whole chain is
    walked by ``saga.audit.verify_chain``; this checks the links a workflow's rows take part in)."""
    from execution_plane.saga.audit import GENESIS, _row_hash

    cur.execute(
        "SELECT a.id, a.at, to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), a.actor,"
        " a.workflow_id, a.action, a.details, a.prev_hash, a.hash,"
        " (SELECT p.hash FROM audit_log p WHERE p.id < a.id ORDER BY p.id DESC LIMIT 1),"
        " (SELECT n.prev_hash FROM audit_log n WHERE n.id > a.id ORDER BY n.id LIMIT 1)"
        " FROM audit_log a WHERE a.workflow_id = %s ORDER BY a.id",
        (workflow_id,),
    )
    found = []
    for row_id, at, at_text, actor, wf, action, details, prev_hash, digest, before, after in cur.fetchall():
        problems = []
        if _row_hash(prev_hash, at_text, actor, wf, action, details) != digest:
            problems.append("its content does not match its hash")
        if prev_hash != (before if before is not None else GENESIS):
            problems.append("its previous hash is not the hash of the row before it")
        if after is not None and after != digest:
            problems.append("the row after it does not name it as its previous")
        found.append(AuditRecord(row_id, at, actor, action, details, prev_hash, digest, tuple(problems)))
    return found


def child_workflows(cur: Any, workflow_id: str) -> list[WorkflowRow]:
    """The workflows this one started as its children (their run ids are ``keys.child_run_id``)."""
    from execution_plane.saga.keys import child_run_id

    cur.execute(
        f"SELECT {_WORKFLOW_COLUMNS} FROM saga_workflows WHERE run_id LIKE %s ORDER BY created_at",
        (_like_prefix(child_run_id(workflow_id, "")),),
    )
    return [WorkflowRow(*row) for row in cur.fetchall()]


def parent_workflow(cur: Any, run_id: str) -> WorkflowRow | None:
    """The workflow that started the run ``run_id`` as its child, if one did."""
    from execution_plane.saga.keys import child_run_id

    head = child_run_id("\x00", "").split("\x00")[0]  # what comes before the parent's workflow id
    if not run_id.startswith(head):
        return None
    rest = run_id[len(head) :]
    # The parent's id ends where the stage begins; ids may hold the separator too, so try each place.
    candidates = [rest[:i] for i in range(1, len(rest)) if run_id.startswith(child_run_id(rest[:i], ""))]
    if not candidates:
        return None
    cur.execute(
        f"SELECT {_WORKFLOW_COLUMNS} FROM saga_workflows WHERE workflow_id = ANY(%s)"
        " ORDER BY length(workflow_id) DESC LIMIT 1",
        (candidates,),
    )
    row = cur.fetchone()
    return WorkflowRow(*row) if row else None
