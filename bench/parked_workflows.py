"""Parked durable workflows must not slow the live ones (the issue of that name).

Real workflows of the shipped durable DAGs are parked at real waits, as many as each point of the curve
asks: ``partner_approval`` at its manager approval (a person: HITL ``awaiting_input``) and
``signature_commitment`` at its signature (an outside event: a deferred wait in the triggerer), half each.
The shipped DAGs have no date wait yet (outreach and PMI bring them). At each point:

- the idle CPU of the scheduler (its process tree) and of Postgres while nothing moves;
- resumes, alternating the two kinds: an approval answered through the REST API -> the workflow's next task
  (``round_1.draft_term_sheet``) finished, and a signature: the eSign provider's webhook accepted ->
  the next task (``route_signature``) finished. Measured from the HTTP answer to the task's ``end_date``.

The same figures with the project's scheduler patch off (``[execution_plane] skip_unchanged_parked_runs``,
execution_plane.compat.parked_runs) at the largest point, so "before" and "after" come from one run.

Past ``real_max`` parked workflows (``--pw-real-max``), a point is filled with copies of two of them: their
rows in Airflow's metadata database (the DAG run, every task instance, the HITL request, a trigger of its
own for the deferred signature wait, which the triggerer then runs), as the scheduler and the triggerer see
a parked workflow; the copies are never resumed (their business rows are not copied) and their templates
are kept parked, never resumed either. Parking a real workflow costs its first tasks (about 35 a minute on
this 2-core machine: 10,000 would take about five hours); a copy costs an INSERT. Each point says how many
of its parked workflows are copies, and a run with ``real_max`` at the largest point measures without any.

Burst: while N workflows are parked, 1,000 new partner approvals are started at once (the REST API, as a CRM
burst would), and parked workflows are resumed during the burst: each resume's delay, and the rate at which
the burst's own runs reach their first wait (the workers' limit: parallelism 6 on this machine).
"""

from __future__ import annotations

import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.harness import Bench, log, summary
from include.domain.common import canonical_json, sha256_hex
from include.security.hmac_signing import signed_headers

PA, SC = "partner_approval", "signature_commitment"
PA_WAIT, PA_NEXT = "manager_approval", "round_1.draft_term_sheet"
SC_WAIT, SC_NEXT = "wait_for_signature", "route_signature"
TERMS = {"revenue_share_pct": 20, "term_months": 24, "territory": ["AE", "SA"], "exclusivity": False}
SWITCH = "AIRFLOW__EXECUTION_PLANE__SKIP_UNCHANGED_PARKED_RUNS"
# Airflow 3.3.2 fails an approval answered within ~1 s of waiting (execution_plane.compat.hitl_early_answer):
# the bench answers only approvals that have waited longer, as people do.
MIN_WAIT_AGE_S = 2.0


def _tag() -> str:
    return uuid.uuid4().hex[:6]


def pa_conf(request_id: str) -> dict[str, Any]:
    return {"request_id": request_id, "partner_id": f"P-{request_id}", "requested_by": "bench"}


def sc_conf(b: Bench, request_id: str) -> dict[str, Any]:
    # The workflow's own token issuer (the DAG bundle is on sys.path once bench.run started).
    from workflows.signature_commitment.domain import issue_token

    return {
        "request_id": request_id,
        "deal_id": f"deal-{request_id}",
        "partner_id": "P-STRONG-1",
        "terms": TERMS,
        "approval_token": issue_token(
            b.setup.secrets.approval_token_secret,
            workflow_key=f"{SC}:{request_id}",
            terms_sha256=sha256_hex(canonical_json(TERMS)),
            approver="exec@execution-plane.example",
            issued_at=int(time.time()),
            ttl_s=30 * 24 * 3600,
        ),
        "signer_email": f"{request_id}@partner.example",
        "signer_name": "Dana Signer",
    }


def start(b: Bench, runs: list[tuple[str, str, dict[str, Any]]], workers: int = 8) -> float:
    """Start (dag_id, run_id, conf) runs through the REST API, ``workers`` at a time; seconds taken."""
    started = time.monotonic()
    from tests.support.airflow_client import AirflowClient

    clients = [AirflowClient(b.stack.api_url, b.setup.secrets.user_passwords) for _ in range(workers)]

    def chunk(index: int) -> None:
        for dag_id, run_id, conf in runs[index::workers]:
            for attempt in range(8):
                resp = clients[index].trigger(dag_id, run_id, conf)
                if resp.status_code in (200, 409):
                    break
                time.sleep(0.5 * (attempt + 1))
            else:
                raise RuntimeError(f"trigger {dag_id}/{run_id}: {resp.status_code} {resp.text[:200]}")

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(chunk, range(workers)))
    return time.monotonic() - started


class Pool:
    """The workflows parked so far: the real ones by kind (a resumed one leaves the pool), the two kept as
    templates of the copies, and the copies."""

    def __init__(self) -> None:
        self.pa: list[str] = []
        self.sc: list[str] = []
        self.templates: list[tuple[str, str]] = []  # (dag_id, run_id), parked, never resumed
        self.copies = 0

    def real(self) -> int:
        return len(self.pa) + len(self.sc) + len(self.templates)

    def __len__(self) -> int:
        return self.real() + self.copies


def parked_counts(b: Bench, pa: list[str], sc: list[str]) -> tuple[int, int]:
    waiting_pa = b.count_tis(PA, pa, PA_WAIT, "awaiting_input") if pa else 0
    waiting_sc = b.running_triggers(SC, sc, SC_WAIT) if sc else 0
    return waiting_pa, waiting_sc


def park_to(b: Bench, pool: Pool, n: int, timeout: float) -> dict[str, Any]:
    """Start enough workflows to have ``n`` parked; wait until each waits (approval awaiting input, signature
    wait running in the triggerer). Returns how long it took and the rate the runs reached their wait."""
    missing = n - pool.real()
    if missing <= 0:
        return {"started": 0, "seconds": 0.0}
    tag = _tag()
    pa_new = [f"pk-pa-{tag}-{i:05d}" for i in range(missing - missing // 2)]
    sc_new = [f"pk-sc-{tag}-{i:05d}" for i in range(missing // 2)]
    runs = [(PA, r, pa_conf(r)) for r in pa_new] + [(SC, r, sc_conf(b, r)) for r in sc_new]
    random.Random(n).shuffle(runs)
    started = time.monotonic()
    trigger_s = start(b, runs)
    log(f"parking {missing} more workflows: {len(runs)} started in {trigger_s:.0f} s")

    def all_parked() -> bool:
        waiting = parked_counts(b, pa_new, sc_new)
        return sum(waiting) >= missing

    b.wait_until(f"{missing} workflows parked", all_parked, timeout, 5)
    seconds = time.monotonic() - started
    pool.pa += pa_new
    pool.sc += sc_new
    return {
        "started": missing,
        "trigger_s": round(trigger_s, 1),
        "seconds": round(seconds, 1),
        "parked_per_min": round(missing / seconds * 60, 1),
    }


def _columns(b: Bench, table: str, *, but: tuple[str, ...]) -> list[str]:
    """The table's columns in Airflow's metadata database (this version's schema), quoted, less ``but``."""
    rows = b.q(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = %s ORDER BY ordinal_position",
        (table,),
    )
    return [f'"{name}"' for (name,) in rows if name not in but]


def _of(alias: str, columns: list[str]) -> str:
    return ", ".join(f"{alias}.{c}" for c in columns)


def copy_runs(b: Bench, dag_id: str, template: str, run_ids: list[str]) -> None:
    """``run_ids`` parked exactly as the run ``template`` is, in one transaction: the DAG run (its last
    scheduling decision included), every task instance (their ``updated_at`` included: nothing is news to
    the scheduler), the HITL request of the one awaiting input, and for a deferred one a trigger of its own,
    unassigned, which a triggerer then picks up and runs."""
    dr = _columns(b, "dag_run", but=("id", "run_id"))
    ti = _columns(b, "task_instance", but=("id", "run_id"))
    hd = _columns(b, "hitl_detail", but=("ti_id",))
    tr = _columns(b, "trigger", but=("id", "created_date", "triggerer_id"))
    source = (dag_id, template)
    with b.meta.cursor() as cur:
        cur.execute("BEGIN")
        try:
            cur.execute(
                f"INSERT INTO dag_run (run_id, {', '.join(dr)}) SELECT n.run_id, {_of('d', dr)}"
                " FROM dag_run d, unnest(%s::text[]) AS n(run_id) WHERE d.dag_id = %s AND d.run_id = %s",
                (run_ids, *source),
            )
            cur.execute(
                f"INSERT INTO task_instance (id, run_id, {', '.join(ti)}) SELECT gen_random_uuid(), n.run_id,"
                f" {_of('t', ti)} FROM task_instance t, unnest(%s::text[]) AS n(run_id)"
                " WHERE t.dag_id = %s AND t.run_id = %s",
                (run_ids, *source),
            )
            cur.execute(
                f"INSERT INTO hitl_detail (ti_id, {', '.join(hd)}) SELECT c.id, {_of('h', hd)}"
                " FROM hitl_detail h JOIN task_instance t ON t.id = h.ti_id JOIN task_instance c"
                " ON c.dag_id = t.dag_id AND c.task_id = t.task_id AND c.map_index = t.map_index"
                " AND c.run_id = ANY(%s) WHERE t.dag_id = %s AND t.run_id = %s",
                (run_ids, *source),
            )
            cur.execute(
                "SELECT task_id, map_index, trigger_id FROM task_instance WHERE dag_id = %s AND run_id = %s"
                " AND trigger_id IS NOT NULL",
                source,
            )
            for task_id, map_index, trigger_id in cur.fetchall():
                cur.execute(
                    f"INSERT INTO trigger (created_date, {', '.join(tr)}) SELECT now(), {_of('x', tr)}"
                    " FROM trigger x, generate_series(1, %s) WHERE x.id = %s RETURNING id",
                    (len(run_ids), trigger_id),
                )
                ids = [row[0] for row in cur.fetchall()]
                cur.execute(
                    "UPDATE task_instance t SET trigger_id = m.trigger_id"
                    " FROM unnest(%s::text[], %s::int[]) AS m(run_id, trigger_id)"
                    " WHERE t.dag_id = %s AND t.task_id = %s AND t.map_index = %s AND t.run_id = m.run_id",
                    (run_ids, ids, dag_id, task_id, map_index),
                )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise


def unsettled(b: Bench, run_ids: list[str]) -> int:
    """Runs of ``run_ids`` the scheduler's parked-runs patch (execution_plane.compat.parked_runs) still
    has news for: a task instance updated since the run's last decision, less the patch's margin (its
    ``runs_to_examine_query`` criterion in plain SQL: the bench process does not load Airflow's models;
    the retry states that are news too never occur in a copy)."""
    from execution_plane.compat.parked_runs import DEFAULT_MARGIN_S

    rows = b.q(
        "SELECT count(*) FROM dag_run d WHERE d.run_id = ANY(%s) AND d.state = 'running' AND EXISTS ("
        " SELECT 1 FROM task_instance t WHERE t.dag_id = d.dag_id AND t.run_id = d.run_id"
        " AND t.updated_at >= d.last_scheduling_decision - make_interval(secs => %s))",
        (run_ids, DEFAULT_MARGIN_S),
    )
    return int(rows[0][0])


def fill_to(b: Bench, pool: Pool, n: int, timeout: float) -> dict[str, Any]:
    """Copies of two parked workflows (one of each kind, kept parked as templates) up to ``n`` parked in all;
    waits until the triggerer has picked up every copied signature wait and the scheduler has no news left
    for any copy (``unsettled``)."""
    missing = n - len(pool)
    if missing <= 0:
        return {"copies": pool.copies, "added": 0, "seconds": 0.0}
    if not pool.templates:
        pool.templates = [(PA, pool.pa.pop()), (SC, pool.sc.pop())]
    started = time.monotonic()
    tag = _tag()
    added: dict[str, list[str]] = {}
    for k, (dag_id, template) in enumerate(pool.templates):
        count = missing - missing // 2 if k == 0 else missing // 2
        run_ids = [f"copy-{template}-{tag}-{i:05d}" for i in range(count)]
        for i in range(0, len(run_ids), 1000):
            copy_runs(b, dag_id, template, run_ids[i : i + 1000])
        added[dag_id] = run_ids
    pool.copies += missing
    b.wait_until(
        f"{len(added[SC])} copied signature waits picked up by the triggerer",
        lambda: b.running_triggers(SC, added[SC], SC_WAIT) >= len(added[SC]),
        timeout,
        5,
    )
    # A copy carries its template's last decision and task updates: news to the scheduler's parked-runs
    # patch when the template was examined within its margin of its last change, as a workflow that just
    # parked is. The scheduler then looks at each copy once, 20 a loop (seen: 900 copies took ~25 s);
    # the point's figures are taken once none is news any more.
    copies = added[PA] + added[SC]
    b.wait_until(
        f"the scheduler has looked at the {len(copies)} new copies",
        lambda: unsettled(b, copies) == 0,
        timeout,
        2,
    )
    seconds = time.monotonic() - started
    log(f"{missing} copies of parked workflows added in {seconds:.0f} s ({pool.copies} copies in all)")
    return {"copies": pool.copies, "added": missing, "seconds": round(seconds, 1)}


def _age_ok(b: Bench, dag_id: str, run_id: str, task_id: str) -> bool:
    _state, start_date, _ = b.ti(dag_id, run_id, task_id)
    return bool(start_date) and time.time() - float(start_date or 0) >= MIN_WAIT_AGE_S


def _elapsed(end_date: float | None, since: float) -> float:
    if end_date is None:
        raise RuntimeError("the next task finished without an end date")
    return round(float(end_date) - since, 3)


def timeline(b: Bench, dag_id: str, run_id: str, since: float, task_ids: tuple[str, str]) -> dict[str, Any]:
    """Where the time went (seconds after ``since``): each task's queued, start and end times."""
    rows = b.q(
        "SELECT task_id, queued_dttm, start_date, end_date FROM task_instance"
        " WHERE dag_id = %s AND run_id = %s AND task_id = ANY(%s) AND map_index = -1",
        (dag_id, run_id, list(task_ids)),
    )
    out: dict[str, Any] = {}
    for task_id, queued, started, ended in rows:
        out[task_id] = {
            name: round(value.timestamp() - since, 3) if value else None
            for name, value in (("queued", queued), ("start", started), ("end", ended))
        }
    return out


def resume_pa(b: Bench, run_id: str, timeout: float) -> dict[str, Any]:
    answered = b.answer(PA, run_id, PA_WAIT, "Approve", user="manager")
    _state, _, ended = b.wait_ti(PA, run_id, PA_NEXT, ("success",), timeout=timeout, interval=0.05)
    return {
        "kind": "approval",
        "run_id": run_id,
        "next_task_finished_s": _elapsed(ended, answered),
        "timeline": timeline(b, PA, run_id, answered, (PA_WAIT, PA_NEXT)),
    }


def resume_sc(b: Bench, run_id: str, timeout: float) -> dict[str, Any]:
    rows = b.q(
        "SELECT envelope_id FROM signature_requests WHERE workflow_id = %s", (f"{SC}:{run_id}",), db="biz"
    )
    envelope = rows[0][0]
    resp = b.sandbox.post(f"/_sandbox/esign/envelopes/{envelope}/sign", params={"deliver": "false"})
    resp.raise_for_status()
    event = resp.json()["event"]
    body = canonical_json(event)
    headers = signed_headers(b.setup.secrets.webhook_esign_secret, body, int(time.time()))
    accepted_resp = b.http.post("/webhooks/esign", content=body, headers=headers)
    accepted = time.time()
    if accepted_resp.status_code != 202:
        raise RuntimeError(f"esign webhook refused: {accepted_resp.status_code} {accepted_resp.text[:200]}")
    _state, _, ended = b.wait_ti(SC, run_id, SC_NEXT, ("success",), timeout=timeout, interval=0.05)
    return {
        "kind": "signature",
        "run_id": run_id,
        "next_task_finished_s": _elapsed(ended, accepted),
        "timeline": timeline(b, SC, run_id, accepted, (SC_WAIT, SC_NEXT)),
    }


def resume_some(b: Bench, pool: Pool, k: int, timeout: float, gap_s: float = 1.0) -> list[dict[str, Any]]:
    """``k`` resumes, alternating an approval and a signature, one at a time."""
    out: list[dict[str, Any]] = []
    for i in range(k):
        kind = pool.pa if i % 2 == 0 else pool.sc
        run_id = kind.pop(0)
        if kind is pool.pa:
            while not _age_ok(b, PA, run_id, PA_WAIT):
                time.sleep(0.2)
            out.append(resume_pa(b, run_id, timeout))
        else:
            out.append(resume_sc(b, run_id, timeout))
        time.sleep(gap_s)
    return out


def cpu_share(b: Bench, seconds: float) -> dict[str, float]:
    """CPU share (% of one core) of the scheduler's process tree and of Postgres while nothing is done."""
    time.sleep(3)
    before = {name: b.cpu_seconds(name) for name in ("scheduler", "postgres")}
    t0 = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    return {
        f"{name}_cpu_pct": round((b.cpu_seconds(name) - before[name]) / elapsed * 100, 1)
        for name in ("scheduler", "postgres")
    }


def point(b: Bench, pool: Pool, n: int, samples: int, label: str, timeout: float) -> dict[str, Any]:
    copies = pool.copies
    idle = cpu_share(b, 15)
    resumes = resume_some(b, pool, samples, timeout)
    values = [r["next_task_finished_s"] for r in resumes]
    log(f"[{label}] {n} parked: idle {idle}, resume -> next task finished {summary(values)}")
    return {
        "label": label,
        "parked": n,
        "copies": copies,
        "idle": idle,
        "resume_next_task_finished": summary(values),
        "by_kind": {
            kind: summary([r["next_task_finished_s"] for r in resumes if r["kind"] == kind])
            for kind in ("approval", "signature")
        },
        "samples": resumes,
    }


def burst(b: Bench, pool: Pool, size: int, resumes: int, timeout: float) -> dict[str, Any]:
    """``size`` new partner approvals at once; ``resumes`` parked workflows resumed while they arrive."""
    tag = _tag()
    run_ids = [f"burst-{tag}-{i:05d}" for i in range(size)]
    log(f"burst: {size} new partner approvals, {resumes} resumes during it")
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool_exec:
        triggering = pool_exec.submit(start, b, [(PA, r, pa_conf(r)) for r in run_ids])
        time.sleep(5)
        during = resume_some(b, pool, resumes, timeout, gap_s=3.0)
        trigger_s = triggering.result()
    b.wait_until(
        f"{size} burst runs at their first wait",
        lambda: b.count_tis(PA, run_ids, PA_WAIT, "awaiting_input") >= size,
        max(1800, size * 2.0),
        5,
    )
    seconds = time.monotonic() - started
    pool.pa += run_ids  # parked now, like the rest
    values = [r["next_task_finished_s"] for r in during]
    return {
        "size": size,
        "trigger_s": round(trigger_s, 1),
        "all_at_first_wait_s": round(seconds, 1),
        "first_waits_per_min": round(size / seconds * 60, 1),
        # Each burst run executes identify_partner, fit_score and the manager_approval gate to get there.
        "burst_tasks_per_s": round(size * 3 / seconds, 2),
        "resume_next_task_finished_during_burst": summary(values),
        "max_resume_delay_s": max(values) if values else None,
        "samples": during,
    }


EXAMINE_SCRIPT = """
import json, sys, time
from airflow.models import DagRun
from airflow.models.dagbag import DBDagBag
from airflow.utils.session import create_session
from sqlalchemy import select
out = {}
for dag_id, run_id in json.loads(sys.argv[1]):
    times = []
    with create_session() as session:
        dag = DBDagBag().get_latest_version_of_dag(dag_id, session=session)
        for _ in range(int(sys.argv[2])):
            dr = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one()
            dr.dag = dag
            unfinished = sum(1 for ti in dr.get_task_instances(session=session) if ti.state not in
                             ("success", "skipped", "failed", "upstream_failed", "removed"))
            started = time.perf_counter()
            dr.update_state(session=session, execute_callbacks=False)
            times.append((time.perf_counter() - started) * 1000)
            session.rollback()  # the scheduler's decision, measured and thrown away: nothing changes
    out[dag_id] = {"unfinished_task_instances": unfinished, "update_state_ms": sorted(times)[len(times) // 2]}
print(json.dumps(out))
"""


def examine_cost(b: Bench, pool: Pool, reps: int = 7) -> dict[str, Any]:
    """What one scheduler examination of a parked run costs (``DagRun.update_state``, Airflow's own code, in a
    process of its own on the stack's metadata DB), by DAG, with the run's unfinished task instances."""
    import json
    import subprocess
    import sys

    from devtools.stack import read_state

    pairs = [[PA, pool.pa[-1]], [SC, pool.sc[-1]]]
    env = {**b.setup.process_env(), **read_state()["env"]}  # type: ignore[dict-item]
    done = subprocess.run(
        [sys.executable, "-c", EXAMINE_SCRIPT, json.dumps(pairs), str(reps)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"examine cost: {done.stderr[-2000:]}")
    cost: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    log(f"one examination of a parked run: {cost}")
    return cost


def park(b: Bench, pool: Pool, n: int, real_max: int, timeout: float) -> dict[str, Any]:
    """``n`` parked workflows: real ones up to ``real_max``, copies of two of them beyond."""
    # About 35 real workflows park per minute on this 2-core machine when nothing else runs (1.7 s each):
    # 1.5 s each timed out once the machine was busier.
    real = park_to(b, pool, min(n, real_max), timeout=max(timeout, min(n, real_max) * 3.0))
    return {**real, "copies": fill_to(b, pool, n, timeout)} if n > real_max else real


def run(
    b: Bench,
    points: list[int],
    samples: int,
    burst_size: int,
    burst_resumes: int,
    real_max: int | None = None,
) -> dict[str, Any]:
    """The curve (project config), the largest point <= 1,000 again with the patch off, and the burst.
    Past ``real_max`` real parked workflows (default: none), points are filled with copies (``fill_to``)."""
    timeout = 600.0
    pool = Pool()
    curve: list[dict[str, Any]] = []
    parking: list[dict[str, Any]] = []
    before: dict[str, Any] | None = None
    cap = max(points) if real_max is None else real_max
    for n in sorted(points):
        # Resumed workflows leave the pool: park back up to n (plus what the samples will take).
        parking.append({"to": n, **park(b, pool, n + samples, cap + samples, 900.0)})
        curve.append(point(b, pool, n, samples, "after", timeout))
        if n == max(p for p in points if p <= 1000) and n > 0:
            log(f"before: the scheduler without the parked-runs patch ({SWITCH}=False), {n} parked")
            b.restart_component("scheduler", {SWITCH: "False"})
            park(b, pool, n + samples, cap + samples, 900.0)
            before = point(b, pool, n, max(4, samples // 2), "before", timeout * 2)
            b.restart_component("scheduler", {})
            # A scheduler just started adopts and re-checks for its first tens of seconds: settle, and resume
            # two workflows unrecorded, before the next figure.
            time.sleep(20)
            resume_some(b, pool, 2, timeout)
    result: dict[str, Any] = {
        "real_max": real_max,
        "curve": curve,
        "parking": parking,
        "before": before,
        "examine_cost": examine_cost(b, pool),
    }
    if burst_size:
        result["burst"] = burst(b, pool, burst_size, burst_resumes, timeout)
    empty = next((p for p in curve if p["parked"] == 0), None)
    at_1000 = next((p for p in curve if p["parked"] == 1000), None)
    if empty and at_1000:
        p95_0 = empty["resume_next_task_finished"]["p95"]
        p95_1000 = at_1000["resume_next_task_finished"]["p95"]
        result["targets"] = {
            "p95_ratio_1000_vs_0": round(p95_1000 / p95_0, 2) if p95_0 else None,
            "idle_scheduler_cpu_pct_above_empty_at_1000": round(
                at_1000["idle"]["scheduler_cpu_pct"] - empty["idle"]["scheduler_cpu_pct"], 1
            ),
        }
    return result
