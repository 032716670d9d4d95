"""The Workflows page with 100,000 workflows in the business tables (issue 16: "fast with 100k workflows"):
``python -m bench.run --only ui`` (``make bench BENCH_ARGS="--only ui"``).

Seeding, in two parts (``seed``):

- the first ``TOOLKIT_N`` through the toolkit's own writer, as a durable workflow writes: ``Saga.register``
  (the workflow row, its ``workflow.started`` audit entry), a DB-write step with its undo recorded
  (``Saga.db_write``: the idempotency key, the ledger step), an approval asked (``record_approval_request``)
  and, past it, decided (``record_decision``: who, a comment), then its end (``Saga.end``) or, for a
  compensated one, the compensation runner itself (``runner.begin`` + ``runner.compensate``). One connection
  (``BenchSaga``), ``synchronous_commit=off``; each call is still its own transaction. About 35 statements a
  workflow: ~12 workflows/s on this loaded 2-core machine, two hours for 100,000;
- the rest in bulk (``bulk_seed``): the same rows, in one transaction of COPYs: ids from the toolkit's key
  functions (``keys.workflow_id``, ``step_key``, ``approval_request_id``, ``request_hash``), audit entries
  chained with the toolkit's own hash (``audit._row_hash``) after the chain's head under its advisory lock,
  so every workflow's page verifies its chain. ``created_at`` spread over the last 180 days (the toolkit's
  writer stamps ``now()``), which the weekly chart and the date filters need.

The three types are DAGs the stack has (``partner_approval``, ``dd_room``, ``signature_commitment``): the page
shows only workflows of DAGs Airflow lets the reader read. Business keys ``benchui-<i>``; the rows stay (the
audit chain is append-only), a later run reuses them.

Fates, a function of the row number: 30 % running (waiting on their approval), 45 % completed, 12 %
compensated (rejected, then undone), 7 % rejected, 6 % failed; six approvers.

Measured client-side through the live API server, as the ``analyst`` (a viewer) with a bearer token, each
request sequential: the list (HTML, first page and a deep page), filtered lists (one type waiting on a
person; an approver's overdue approvals; compensated in a date range; a business-key search), one workflow's
page, the CSV export of a filtered list and of the whole list, and the charts. p50/p95 of ``n`` samples
each; the server's own per-query times (the JSON routes' ``query_ms``) beside them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg2

from bench.harness import Bench, business_url, log, summary

N_WORKFLOWS = 100_000
TOOLKIT_N = 500
DAYS = 180
TYPES = ("partner_approval", "dd_room", "signature_commitment")
APPROVERS = ("manager", "legal", "executive", "dd_lead", "ic_member", "deal_desk")
READER = "analyst"
UNDO = "bench.ui_page.undo_record"
PREFIX = "benchui-"


def fate(i: int) -> str:
    k = (i * 37) % 100
    if k < 30:
        return "running"
    if k < 75:
        return "completed"
    if k < 87:
        return "compensated"
    if k < 94:
        return "rejected"
    return "failed"


def _register_undo() -> None:
    from execution_plane.saga import compensations

    if UNDO in compensations.REGISTRY:
        return

    @compensations.compensation(UNDO)
    def undo_record(saga: Any, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
        return {"undone": args.get("i")}


def seeded(url: str) -> int:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM saga_workflows WHERE dag_id = ANY(%s) AND business_key LIKE %s",
            (list(TYPES), PREFIX + "%"),
        )
        return int(cur.fetchone()[0])


def _leave_to_no_reconciler(conn: Any, workflow_id: str) -> None:
    """A rejected or failed workflow without a compensation run is the reconciler's to compensate (hundreds
    of runs in the measured stack): named as having one, as ``bench.services_seed`` does."""
    from execution_plane.saga.keys import compensation_run_id

    with conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE saga_workflows SET compensation_run_id = %s WHERE workflow_id = %s",
            (compensation_run_id(workflow_id), workflow_id),
        )


def toolkit_seed(url: str, n: int) -> dict[str, Any]:
    """Workflows 0..n-1 through the toolkit's writer (from the first one not there yet)."""
    from execution_plane.saga import keys, runner
    from execution_plane.saga.compensations import Compensation
    from execution_plane.saga.steps import Saga

    _register_undo()
    os.environ["PGOPTIONS"] = "-c synchronous_commit=off"
    shared = psycopg2.connect(url, application_name="bench_ui_seed")
    os.environ.setdefault("AIRFLOW_CONN_EXECUTION_PLANE_DB", url)  # the undo's own connection (runner._undo)

    class BenchSaga(Saga):
        def conn(self) -> Any:
            return shared

        def close(self) -> None:
            pass

    have = seeded(url)
    started = time.monotonic()
    last = started
    for i in range(have, n):
        dag_id = TYPES[i % len(TYPES)]
        request_id = f"{PREFIX}{i:06d}"
        workflow_id = keys.workflow_id(dag_id, request_id)
        end = fate(i)
        approver = APPROVERS[i % len(APPROVERS)]
        saga = BenchSaga(
            workflow_id=workflow_id, dag_id=dag_id, run_id=f"benchui__{i:06d}", business_key=request_id
        )
        saga.register()
        saga.db_write(
            "record_terms",
            lambda cur, i=i: {"terms": i},
            request={"i": i},
            compensation=Compensation(UNDO, {"i": i}),
        )
        request = saga.record_approval_request(
            stage="manager_approval", task_id="manager_approval", assignees=[approver], subject=request_id
        )
        if end == "completed":
            saga.record_decision(request, status="approved", decided_by=approver, comment="fine")
            saga.end("completed")
        elif end in ("rejected", "compensated"):
            saga.record_decision(request, status="rejected", decided_by=approver, comment="terms")
            saga.end("rejected", f"rejected at manager_approval by {approver}: terms")
            if end == "compensated":
                reason = runner.begin(saga, reason="rejected", bad_ending="rejected")
                runner.compensate(saga, reason=reason or "rejected")
        elif end == "failed":
            saga.end("failed", "a step failed")
        if end in ("rejected", "failed"):
            _leave_to_no_reconciler(shared, workflow_id)
        if time.monotonic() - last > 30:
            last = time.monotonic()
            done = i + 1 - have
            log(f"ui seed: {i + 1:,}/{n:,} ({done / (last - started):.0f} workflows/s)")
    shared.close()
    seconds = time.monotonic() - started
    return {
        "already_there": have,
        "written": max(0, n - have),
        "seconds": round(seconds, 1),
        "per_s": round(max(0, n - have) / seconds, 1) if n > have else None,
    }


def _copy(cur: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in rows:
        writer.writerow(["\\N" if v is None else v for v in row])
    buf.seek(0)
    cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buf)


def _at(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def bulk_seed(url: str, start: int, n: int) -> dict[str, Any]:
    """Workflows start..n-1 in one transaction: the rows the toolkit's writer makes, COPYed."""
    from execution_plane.saga import audit, keys

    if start >= n:
        return {"written": 0, "seconds": 0.0}
    began = time.monotonic()
    now = datetime.now(UTC).replace(microsecond=0)
    workflows, idem, steps, approvals, trail = [], [], [], [], []
    for i in range(start, n):
        dag_id = TYPES[i % len(TYPES)]
        request_id = f"{PREFIX}{i:06d}"
        wf = keys.workflow_id(dag_id, request_id)
        run_id = f"benchui__{i:06d}"
        end = fate(i)
        who = APPROVERS[i % len(APPROVERS)]
        created = now - timedelta(minutes=(i * 7919) % (DAYS * 24 * 60))
        step_at = created + timedelta(minutes=5)
        asked = created + timedelta(minutes=6)
        decided = asked + timedelta(minutes=(i * 31) % (3 * 24 * 60) + 1)
        ended = decided + timedelta(minutes=2)
        status = {"rejected": "rejected", "compensated": "compensated"}.get(end, end)
        reason = {
            "rejected": f"rejected at manager_approval by {who}: terms",
            "compensated": f"rejected at manager_approval by {who}: terms",
            "failed": "a step failed",
        }.get(end)
        workflows.append(
            (
                wf,
                dag_id,
                run_id,
                request_id,
                status,
                reason,
                keys.compensation_run_id(wf) if end in ("rejected", "failed", "compensated") else None,
                created,
                created if end == "running" else ended,
            )
        )
        key = keys.step_key(wf, "record_terms")
        idem.append((key, "db", wf, keys.request_hash({"i": i}), "done", json.dumps({"terms": i}), step_at))
        undone = end == "compensated"
        steps.append(
            (
                wf,
                "record_terms",
                key,
                "db.write",
                UNDO,
                json.dumps({"i": i}),
                "compensated" if undone else "done",
                json.dumps({"undone": i}) if undone else None,
                "rejected" if undone else None,
                step_at,
                ended if undone else None,
            )
        )
        decision = {"completed": "approved", "rejected": "rejected", "compensated": "rejected"}.get(end)
        approvals.append(
            (
                keys.approval_request_id(wf, "manager_approval"),
                wf,
                "manager_approval",
                dag_id,
                run_id,
                "manager_approval",
                "{" + who + "}",
                request_id,
                decision or "pending",
                decision,
                who if decision else None,
                decided if decision else None,
                ("fine" if decision == "approved" else "terms") if decision else None,
                asked,
            )
        )
        entries = [
            (created, "workflow", "workflow.started", {"dag_id": dag_id, "run_id": run_id}),
            (
                asked,
                "workflow",
                "approval.requested",
                {"request_id": f"{wf}:manager_approval", "stage": "manager_approval", "assignees": [who]},
            ),
        ]
        if decision:
            entries.append(
                (
                    decided,
                    who,
                    f"approval.{decision}",
                    {
                        "request_id": f"{wf}:manager_approval",
                        "comment": "fine" if decision == "approved" else "terms",
                    },
                )
            )
        if end != "running":
            entries.append((ended, "saga", f"workflow.{'rejected' if undone else end}", {"reason": reason}))
        if undone:
            entries += [
                (ended, "saga", "workflow.compensating", {"reason": None}),
                (
                    ended,
                    "saga:compensation",
                    "step.compensated",
                    {
                        "step": "record_terms",
                        "compensation": UNDO,
                        "reason": "rejected",
                        "result": {"undone": i},
                    },
                ),
                (ended, "saga", "workflow.compensated", {"reason": None}),
            ]
        trail += [(at, actor, wf, action, details) for at, actor, action, details in entries]
    with psycopg2.connect(url, application_name="bench_ui_seed") as conn, conn.cursor() as cur:
        cur.execute("SET LOCAL synchronous_commit = off")
        _copy(
            cur,
            "saga_workflows",
            (
                "workflow_id",
                "dag_id",
                "run_id",
                "business_key",
                "status",
                "reason",
                "compensation_run_id",
                "created_at",
                "updated_at",
            ),
            workflows,
        )
        _copy(
            cur,
            "idempotency_keys",
            ("key", "scope", "workflow_id", "request_hash", "status", "result", "created_at"),
            idem,
        )
        _copy(
            cur,
            "saga_steps",
            (
                "workflow_id",
                "step",
                "idempotency_key",
                "side_effect",
                "compensation_action",
                "compensation_args",
                "status",
                "compensation_result",
                "compensation_reason",
                "done_at",
                "compensated_at",
            ),
            steps,
        )
        _copy(
            cur,
            "approval_requests",
            (
                "request_id",
                "workflow_id",
                "stage",
                "dag_id",
                "run_id",
                "task_id",
                "assignees",
                "subject",
                "status",
                "decision",
                "decided_by",
                "decided_at",
                "comment",
                "created_at",
            ),
            approvals,
        )
        # The chain continues from its head, under the lock every append takes (audit.append).
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (audit._CHAIN_LOCK,))
        cur.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
        head = cur.fetchone()
        prev = head[0] if head else audit.GENESIS
        rows = []
        for at, actor, wf, action, details in sorted(trail, key=lambda e: e[0]):
            stamp = _at(at)
            digest = audit._row_hash(prev, stamp, actor, wf, action, details)
            rows.append((stamp, actor, wf, action, json.dumps(details), prev, digest))
            prev = digest
        _copy(
            cur, "audit_log", ("at", "actor", "workflow_id", "action", "details", "prev_hash", "hash"), rows
        )
    seconds = time.monotonic() - began
    return {"written": n - start, "audit_entries": len(rows), "seconds": round(seconds, 1)}


def seed(url: str, n: int) -> dict[str, Any]:
    have = seeded(url)
    if have >= n:
        return {"already_there": have, "toolkit": None, "bulk": None}
    toolkit = toolkit_seed(url, min(n, TOOLKIT_N)) if have < TOOLKIT_N else None
    bulk = bulk_seed(url, max(have, TOOLKIT_N), n)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("ANALYZE saga_workflows, approval_requests, saga_steps, idempotency_keys, audit_log")
    return {"already_there": have, "toolkit": toolkit, "bulk": bulk}


# ------------------------------------------------------------------------------------------------ measure
def _get(client: httpx.Client, path: str, params: Any = None) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.get(path, params=params)
    response.read()
    return time.perf_counter() - started, response


def timed(client: httpx.Client, path: str, params: Any, n: int) -> dict[str, Any]:
    """``n`` sequential requests after one warm-up; a non-200 is an error, not a sample."""
    _get(client, path, params)
    samples, errors = [], 0
    rows = None
    for _ in range(n):
        seconds, response = _get(client, path, params)
        if response.status_code != 200:
            errors += 1
            continue
        samples.append(seconds)
        rows = response.headers.get("x-workflow-count", rows)
    result = {**summary(samples), "errors": errors}
    if rows is not None:
        result["rows"] = int(rows)
    return result


def server_ms(client: httpx.Client, path: str, params: Any) -> dict[str, Any]:
    _, response = _get(client, path, params)
    body = response.json()
    return {"total": body.get("total"), "query_ms": body.get("query_ms")}


def run(b: Bench, n: int = N_WORKFLOWS, samples: int = 20, export_samples: int = 3) -> dict[str, Any]:
    url = business_url()
    log(f"ui page: {n:,} workflows (seeded through the toolkit; {seeded(url):,} already there)")
    result: dict[str, Any] = {"workflows": n, "seed": seed(url, n), "reader": READER}
    token = b.stack.token(READER)
    rng = random.Random(16)
    some = [f"{TYPES[i % 3]}:{PREFIX}{i:06d}" for i in rng.sample(range(n), samples)]
    lists = {
        "list": {},
        "list_page_500": {"page": 500},
        "filtered_type_waiting_person": {"type": "partner_approval", "status": "waiting_person"},
        "filtered_approver_overdue": {"waiting_on": "legal", "overdue": "true"},
        "filtered_compensated_in_range": {"status": "compensated", "started_from": "2020-01-01"},
        "search_business_key": {"q": f"{PREFIX}0421"},
    }
    figures: dict[str, Any] = {}
    with httpx.Client(
        base_url=b.stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=300
    ) as client:
        for name, params in lists.items():
            figures[name] = timed(client, "/workflows/", params, samples)
            figures[name]["server"] = server_ms(client, "/workflows/api/workflows", params)
            log(f"ui page {name}: {figures[name]}")
        one: list[float] = []
        for workflow_id in some:
            seconds, response = _get(client, f"/workflows/w/{workflow_id}")
            assert response.status_code == 200, (workflow_id, response.status_code, response.text[:300])
            one.append(seconds)
        figures["one_workflow"] = {
            **summary(one),
            "server": server_ms(client, f"/workflows/api/workflows/{some[0]}", None),
        }
        log(f"ui page one_workflow: {figures['one_workflow']}")
        figures["csv_filtered"] = timed(
            client, "/workflows/export.csv", {"type": "dd_room", "status": "completed"}, samples // 2
        )
        log(f"ui page csv_filtered: {figures['csv_filtered']}")
        figures["csv_all"] = timed(client, "/workflows/export.csv", None, export_samples)
        log(f"ui page csv_all: {figures['csv_all']}")
        figures["charts"] = timed(client, "/workflows/charts", None, max(3, samples // 4))
        figures["charts"]["server"] = server_ms(client, "/workflows/api/charts", None)
        log(f"ui page charts: {figures['charts']}")
    result["figures"] = figures
    return result


def markdown_lines(ui: dict[str, Any] | None) -> list[str]:
    if not ui:
        return []
    seed_ = ui["seed"]
    parts = [f"{seed_['already_there']:,} already there"]
    if seed_.get("toolkit"):
        t = seed_["toolkit"]
        parts.append(f"{t['written']:,} through the toolkit's writer in {t['seconds']} s ({t['per_s']}/s)")
    if seed_.get("bulk"):
        k = seed_["bulk"]
        parts.append(f"{k['written']:,} in bulk in {k['seconds']} s")
    lines = [
        "",
        f"## Workflows page with {ui['workflows']:,} workflows (issue 16)",
        "",
        f"Seeded: {'; '.join(parts)}. Client-side, through the live API server, as `{ui['reader']}`,"
        " sequential requests; seconds.",
        "",
        "| request | n | p50 | p95 | max | rows |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in ui["figures"].items():
        lines.append(
            f"| {name} | {f.get('n')} | {f.get('p50')} | {f.get('p95')} | {f.get('max')} |"
            f" {f.get('rows', (f.get('server') or {}).get('total', ''))} |"
        )
    return lines
