"""End to end time of every shipped durable and medium-lived workflow with instant answers (issue 17, "Also").

How long a workflow takes when nobody makes it wait: one run of each, started through the REST API with params
that keep it short (the live tests' params: date waits compressed, e.g. pmi_program's ``day_seconds``), every
approval answered as its assigned user through the HITL REST API (PATCH hitlDetails) ``ANSWER_AGE_S`` after it
started waiting (Airflow 3.3.2 fails an earlier answer: AIRFLOW3_NOTES.md), every outside event made to
happen at once through the sandbox's controls (as the live tests do: an envelope signed, a filing cleared, a
region ready, a partner's answer), as soon as the provider's record of the request shows in the sandbox's
effect log or the wait is deferred.

Measured from the REST trigger to the run's end (``dag_run.end_date``), from the metadata DB: the task
instances of the run and of its child runs (``child__<workflow id>__*``), each try (``task_instance`` and
``task_instance_history``) with its ``end_date - start_date``, and

- task work: the sum of those durations (a wait's try lasts while it waits: a deferred wait or an approval
  counts as work here; the approvals' share, ``answer_wait_s``, is given beside it);
- critical path: the longest path through the DAG's own tasks (its edges from the REST API's task list),
  each task weighing its tries' time (a mapped task: its longest map index); child runs lie inside the
  parent task that waits for them;
- scheduling share: ``(wall - critical path) / wall``, the time nothing of the run's own path was running:
  scheduling, queueing, task start-up and hand-overs between tasks.

py-spy samples the scheduler (with its LocalExecutor workers and task processes) for the whole of one
``partner_approval`` run; its summary (``harness.py_spy_top``) is kept in the results.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psutil

from bench.harness import Bench, log, profiles_dir, py_spy_start, py_spy_top

ANSWER_AGE_S = 1.5  # as bench/throughput.py: no earlier than Airflow 3.3.2 accepts an answer
POLL_S = 0.2
# Options taken when a person decides, first found among a question's options: the way forward.
PREFERRED = ("Approve", "Accept", "Pass", "Widen", "Proceed", "Continue", "Yes")
CRM_SALES = {"Authorization": "Bearer e2e-sales"}


# ------------------------------------------------------------------------------------- the computation
@dataclass(frozen=True)
class Try:
    """One try of one task instance, as the metadata DB keeps it (times in epoch seconds)."""

    run_id: str
    task_id: str
    map_index: int
    try_number: int
    start: float | None
    end: float | None
    state: str | None

    @property
    def seconds(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return max(self.end - self.start, 0.0)


def task_work_s(tries: Iterable[Try]) -> float:
    """The sum of every try's run time."""
    return sum(t.seconds for t in tries)


def task_weights(tries: Iterable[Try]) -> dict[str, float]:
    """Each task's time on a path: its tries' time summed per map index (tries run one after another), the
    longest map index for a mapped task (its instances run side by side)."""
    per_index: dict[tuple[str, int], float] = {}
    for t in tries:
        per_index[(t.task_id, t.map_index)] = per_index.get((t.task_id, t.map_index), 0.0) + t.seconds
    out: dict[str, float] = {}
    for (task_id, _), seconds in per_index.items():
        out[task_id] = max(out.get(task_id, 0.0), seconds)
    return out


def critical_path(weights: dict[str, float], downstream: dict[str, list[str]]) -> tuple[float, list[str]]:
    """The heaviest path through the DAG (task -> its downstream tasks), a task weighing ``weights`` (0 for a
    task that did not run). Returns its weight and its tasks in order."""
    nodes = set(weights) | set(downstream) | {d for ds in downstream.values() for d in ds}
    best: dict[str, tuple[float, list[str]]] = {}

    def heaviest_from(node: str, seen: frozenset[str]) -> tuple[float, list[str]]:
        if node in best:
            return best[node]
        if node in seen:
            raise ValueError(f"the DAG has a cycle through {node}")
        tail: tuple[float, list[str]] = (0.0, [])
        for nxt in downstream.get(node, []):
            found = heaviest_from(nxt, seen | {node})
            if found[0] > tail[0]:
                tail = found
        best[node] = (weights.get(node, 0.0) + tail[0], [node, *tail[1]])
        return best[node]

    top: tuple[float, list[str]] = (0.0, [])
    for node in sorted(nodes):
        found = heaviest_from(node, frozenset())
        if found[0] > top[0]:
            top = found
    return top[0], top[1]


def chain_path(tries: Iterable[Try]) -> float:
    """Without the DAG's edges: the heaviest chain of tries each starting after the one before ended (the
    most task work that ran one after another). Weighted interval scheduling."""
    spans = sorted(
        ((t.start, t.end) for t in tries if t.start is not None and t.end is not None), key=lambda s: s[1]
    )
    best: list[float] = []  # best[i]: heaviest chain ending with spans[i]
    for i, (start, end) in enumerate(spans):
        before = max((best[j] for j in range(i) if spans[j][1] <= start), default=0.0)
        best.append(before + (end - start))
    return max(best, default=0.0)


def breakdown(
    wall_s: float, tries: list[Try], run_id: str, downstream: dict[str, list[str]] | None
) -> dict[str, Any]:
    """The figures of one run: tasks, task work, critical path and the scheduling share of the wall time.
    ``tries`` may hold child runs' tries; the path is the parent's (``run_id``)."""
    own = [t for t in tries if t.run_id == run_id]
    if downstream:
        path_s, path = critical_path(task_weights(own), downstream)
    else:
        path_s, path = chain_path(own), []
    instances = {(t.run_id, t.task_id, t.map_index) for t in tries}
    ran = {(t.run_id, t.task_id, t.map_index) for t in tries if t.start is not None}
    return {
        "wall_s": round(wall_s, 2),
        "task_instances": len(instances),
        "task_instances_ran": len(ran),
        "tries": sum(1 for t in tries if t.start is not None),
        "retried_tries": sum(1 for t in tries if t.start is not None) - len(ran),
        "task_work_s": round(task_work_s(tries), 2),
        "critical_path_s": round(path_s, 2),
        "critical_path_tasks": len([p for p in path if p in {t.task_id for t in own}]),
        "scheduling_s": round(max(wall_s - path_s, 0.0), 2),
        "scheduling_share_pct": round(max(wall_s - path_s, 0.0) / wall_s * 100, 1) if wall_s > 0 else None,
        "child_runs": len({t.run_id for t in tries} - {run_id}),
    }


# ------------------------------------------------------------------------------------- the scenarios
@dataclass
class Ctx:
    """One scenario's run on the bench stack: the outside world's side of it."""

    b: Bench
    rid: str
    dag_id: str
    run_id: str
    done: set[str] = field(default_factory=set)

    @property
    def wf(self) -> str:
        return f"{self.dag_id}:{self.rid}"

    # The live tests' helpers take an object with .sandbox(method, path, ...) and .effects(...): this is one.
    def sandbox(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.b.sandbox.request(method, path, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def effects(self, **filters: str) -> list[dict[str, Any]]:
        body = self.sandbox("GET", "/_sandbox/effects", params=filters)
        return list(body["effects"] if isinstance(body, dict) else body)

    def event(self, source: str, event_type: str, correlation_key: str, suffix: str) -> None:
        self.sandbox(
            "POST",
            "/_sandbox/events",
            json={
                "source": source,
                "event_id": f"{self.rid}-{suffix}",
                "type": event_type,
                "correlation_key": correlation_key,
                "payload": {"note": "bench"},
            },
        )


# (system, action) of a provider's record -> the sandbox controls that make its outcome happen at once.
Reaction = Callable[[Ctx, dict[str, Any]], None]


def _post(*paths: str, body: dict[str, Any] | None = None) -> Reaction:
    def react(ctx: Ctx, effect: dict[str, Any]) -> None:
        for path in paths:
            ctx.sandbox("POST", path.format(id=effect["resource_id"], system=effect["system"]), json=body)

    return react


REACTIONS: dict[tuple[str, str], Reaction] = {
    ("esign", "create_envelope"): _post("/_sandbox/esign/envelopes/{id}/sign"),
    ("counsel", "request_review"): _post("/_sandbox/{system}/reviews/{id}/opinion", body={"summary": "ok"}),
    ("advisor", "request_review"): _post("/_sandbox/{system}/reviews/{id}/opinion", body={"summary": "ok"}),
    ("regulator", "submit_filing"): _post(
        "/_sandbox/regulator/filings/{id}/acknowledge", "/_sandbox/regulator/filings/{id}/clear"
    ),
    ("erp", "request_mandate"): _post("/_sandbox/erp/bank-mandates/{id}/activate"),
    ("legal", "file_parent_change"): _post("/_sandbox/legal/parent-changes/{id}/register"),
    ("infra", "provision_region"): _post("/_sandbox/infra/regions/{id}/ready"),
    ("payouts", "create_profile"): _post("/_sandbox/payouts/profiles/{id}/verify"),
}


@dataclass
class Scenario:
    dag_id: str
    conf: Callable[[Ctx], dict[str, Any]]
    # Tasks that, once deferred, get their outside event at once (sent by the callable; False: not yet).
    on_deferred: dict[str, Callable[[Ctx], bool | None]] = field(default_factory=dict)
    # Who answers an approval when its details name nobody (task id -> user); the assignee otherwise.
    users: dict[str, str] = field(default_factory=dict)
    # Task id (its last part) -> the option chosen; otherwise the first of PREFERRED offered.
    options: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[Ctx], None] | None = None
    timeout_s: float = 420


def _pa_conf(ctx: Ctx) -> dict[str, Any]:
    return {
        "request_id": ctx.rid,
        "partner_id": f"P-{ctx.rid}",
        "requested_by": "bench",
        "max_negotiation_rounds": 1,
    }


def _partner_accepts(ctx: Ctx) -> None:
    ctx.event("partner", "partner.accepted", f"partner_approval:{ctx.rid}:round:1", "r1-accepted")


def _sc_conf(ctx: Ctx) -> dict[str, Any]:
    from bench.parked_workflows import sc_conf

    return sc_conf(ctx.b, ctx.rid)


def _dd_conf(ctx: Ctx) -> dict[str, Any]:
    return {
        "request_id": ctx.rid,
        "deal_id": f"deal-{ctx.rid}",
        "target_company": "Acme Robotics",
        "target_contact_email": f"{ctx.rid}@target.example",
        "base_valuation_usd": 25_000_000,
    }


def _ma_conf(ctx: Ctx) -> dict[str, Any]:
    return {
        "request_id": ctx.rid,
        "deal_id": f"deal-{ctx.rid}",
        "target_id": f"T-{ctx.rid}",
        "target_company": "Nimbus Analytics",
        "target_contact_email": f"{ctx.rid}@nimbus.example",
        "target_contact_name": "Dana Cfo",
        "base_valuation_usd": 50_000_000,
    }


def _target_accepts(ctx: Ctx) -> None:
    ctx.event("target", "offer.accepted", f"ma_offer:{ctx.rid}:response:1", "accept")


def _geo_conf(ctx: Ctx) -> dict[str, Any]:
    from tests.e2e.test_geo_expansion_launch_live import READY, partners

    return {
        "request_id": ctx.rid,
        "market": "BR",
        "market_name": "Brazil",
        "currency": "BRL",
        "region": "sa-east-1",
        "partners": partners(ctx.rid),
        "readiness": READY,
        "rollout_steps_pct": [5],
        "metrics_window_hours": 0.0005,  # about 2 s
        "renegotiation_timeout_hours": 0.0005,
    }


def _pmi_prepare(ctx: Ctx) -> None:
    ctx.sandbox("PATCH", f"/crm/v1/deals/deal-{ctx.rid}", json={"status": "closed_won"}, headers=CRM_SALES)


def _pmi_conf(ctx: Ctx) -> dict[str, Any]:
    return {
        "request_id": ctx.rid,
        "deal_id": f"deal-{ctx.rid}",
        "target_company": "Lumen Logistics",
        "target_company_id": f"T-{ctx.rid}",
        "day_seconds": 1.0,  # the live test's: Day 90 is 90 s after Day 1
    }


def _lead_prepare(ctx: Ctx) -> None:
    ctx.sandbox(
        "POST",
        "/crm/v1/leads",
        json={
            "lead_id": f"L-{ctx.rid}",
            "country": "AE",
            "company_domain": f"gulf-{ctx.rid}.example",
            "company_size": 1500,
            "industry": "fintech",
            "source": "referral",
            "budget_usd": 150_000,
            "engagement": {"replies": 2, "meetings": 1},
            "notes": "We want a proposal this quarter; budget approved.",
        },
        headers={"Authorization": "Bearer test"},
    )


def _contact_prepare(ctx: Ctx) -> None:
    from tests.e2e.test_outreach_sequence_live import seed_contact

    ctx.contact = seed_contact(ctx, arabic=False)  # type: ignore[attr-defined]


def _outreach_conf(ctx: Ctx) -> dict[str, Any]:
    # One message, then a reply window of ~2 s with no reply: the sequence's shortest whole path.
    return {
        "request_id": ctx.rid,
        "contact_id": ctx.contact["contact_id"],  # type: ignore[attr-defined]
        "send_window_start": "00:00",
        "send_window_end": "24:00",
        "max_messages": 1,
        "reply_window_hours": 0.0005,
    }


def _meeting_conf(ctx: Ctx) -> dict[str, Any]:
    from tests.e2e.test_meeting_booking_live import request

    return request(ctx.rid)


def _attendee_picks(ctx: Ctx) -> bool:
    """The attendee takes the first time proposed, in reply to the proposal (once it is sent)."""
    address = f"ana.{ctx.rid}@cedar.example"
    sent = [e for e in ctx.effects(system="email", action="send") if e["payload"].get("to") == address]
    if not sent:
        return False
    ctx.sandbox(
        "POST", f"/_sandbox/messages/{sent[-1]['resource_id']}/reply", json={"text": "Option 1 please"}
    )
    return True


def _proposal_conf(ctx: Ctx) -> dict[str, Any]:
    from tests.e2e.test_proposal_generation_live import ITEMS

    # 12 % asks the deal desk (the gated path: one approval).
    return {
        "request_id": ctx.rid,
        "deal_id": f"D-{ctx.rid}",
        "items": ITEMS,
        "requested_discount_pct": 12,
        "language": "en",
    }


def _affiliate_conf(ctx: Ctx) -> dict[str, Any]:
    from tests.e2e.test_affiliate_onboarding_live import application

    return application(ctx.rid)


def _previous(dag_id: str) -> Callable[[Ctx], str]:
    """The workflow id of this session's earlier run of ``dag_id`` (evidence_pack packs it)."""

    def find(ctx: Ctx) -> str:
        return str(getattr(ctx.b, "e2e_workflow_ids", {}).get(dag_id, ""))

    return find


def _evidence_conf(ctx: Ctx) -> dict[str, Any]:
    return {"subject_type": "workflow", "subject_id": _previous("partner_approval")(ctx)}


def _contradiction_conf(ctx: Ctx) -> dict[str, Any]:
    # The deal signature_commitment got signed in this session: its signed terms and the CRM's record.
    workflow_id = _previous("signature_commitment")(ctx)
    return {"deal_id": f"deal-{workflow_id.split(':', 1)[1]}" if workflow_id else f"deal-{ctx.rid}"}


SCENARIOS: dict[str, Scenario] = {
    s.dag_id: s
    for s in (
        Scenario(
            "partner_approval",
            _pa_conf,
            on_deferred={"round_1.partner_response": _partner_accepts},
            users={
                "manager_approval": "manager",
                "round_1.legal_review": "legal",
                "executive_approval": "executive",
            },
        ),
        Scenario("dd_room", _dd_conf, users={"ic_review": "ic_member"}),
        Scenario("signature_commitment", _sc_conf),
        Scenario(
            "ma_offer",
            _ma_conf,
            on_deferred={"negotiation_1.target_response": _target_accepts},
            users={"board_approval": "board"},
        ),
        Scenario("geo_expansion_launch", _geo_conf, users={"round_1.scale_decision": "launch_lead"}),
        Scenario(
            "lead_qualification",
            lambda c: {"request_id": c.rid, "lead_ids": [f"L-{c.rid}"], "rate_limit_wait_s": 0},
            prepare=_lead_prepare,
        ),
        Scenario("outreach_sequence", _outreach_conf, prepare=_contact_prepare),
        Scenario("meeting_booking", _meeting_conf, on_deferred={"round_1.answer": _attendee_picks}),
        Scenario("proposal_generation", _proposal_conf, users={"discount_approval": "deal_desk"}),
        Scenario("affiliate_onboarding", _affiliate_conf, users={"affiliate_review": "manager"}),
        Scenario(
            "compliance_scan",
            lambda c: {"lookback_hours": 1, "max_task_instances": 200, "max_evidence_packs": 50},
        ),
        Scenario("evidence_pack", _evidence_conf),
        Scenario("contradiction_scan", _contradiction_conf),
        # Last: 126 tasks and 90 compressed days (90 s), the longest of all.
        Scenario("pmi_program", _pmi_conf, prepare=_pmi_prepare, timeout_s=900),
    )
}


# ------------------------------------------------------------------------------------- driving one run
def family(b: Bench, ctx: Ctx) -> list[tuple[str, str]]:
    """(dag_id, run_id) of the run and its child runs."""
    rows = b.q(
        "SELECT dag_id, run_id FROM dag_run WHERE (dag_id = %s AND run_id = %s) OR run_id LIKE %s",
        (ctx.dag_id, ctx.run_id, f"child__{ctx.wf}__%"),
    )
    return [(str(d), str(r)) for d, r in rows]


def tries_of(b: Bench, runs: list[tuple[str, str]]) -> list[Try]:
    out: list[Try] = []
    for dag_id, run_id in runs:
        for table in ("task_instance", "task_instance_history"):
            for task_id, map_index, try_number, start, end, state in b.q(
                f"SELECT task_id, map_index, try_number, start_date, end_date, state FROM {table}"
                " WHERE dag_id = %s AND run_id = %s",
                (dag_id, run_id),
            ):
                out.append(
                    Try(
                        run_id,
                        task_id,
                        int(map_index),
                        int(try_number or 0),
                        _epoch(start),
                        _epoch(end),
                        state,
                    )
                )
    # A try is in task_instance_history once retried; the live row is the latest try: keep each try once.
    seen: dict[tuple[str, str, int, int], Try] = {}
    for t in out:
        seen.setdefault((t.run_id, t.task_id, t.map_index, t.try_number), t)
    return list(seen.values())


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def downstream_of(b: Bench, dag_id: str) -> dict[str, list[str]] | None:
    resp = b.api.request("GET", f"/dags/{dag_id}/tasks")
    if resp.status_code != 200:
        return None
    return {t["task_id"]: list(t.get("downstream_task_ids") or []) for t in resp.json()["tasks"]}


def first_failure(b: Bench, ctx: Ctx) -> str | None:
    """The first error logged by a task of the run (from its log file): what stopped it."""
    from devtools import env as ep_env

    for (task_id,) in b.q(
        "SELECT task_id FROM task_instance WHERE run_id = %s AND state IN ('up_for_retry', 'failed')"
        " ORDER BY end_date LIMIT 1",
        (ctx.run_id,),
    ):
        folder = ep_env.airflow_home() / "logs" / f"dag_id={ctx.dag_id}" / f"run_id={ctx.run_id}"
        for path in sorted((folder / f"task_id={task_id}").glob("*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if '"error_detail"' not in line:
                    continue
                detail = json.loads(line)["error_detail"][0]
                frames = detail.get("frames") or [{}]
                where = f"{frames[-1].get('filename', '?')}:{frames[-1].get('lineno', '?')}"
                return f"{task_id}: {detail.get('exc_type')}: {detail.get('exc_value')} ({where})"[:400]
        return f"{task_id}: failed"
    return None


def _option(scenario: Scenario, task_id: str, options: list[str]) -> str:
    wanted = scenario.options.get(task_id) or scenario.options.get(task_id.rsplit(".", 1)[-1])
    if wanted:
        return wanted
    return next((o for o in PREFERRED if o in options), options[0])


def drive(b: Bench, scenario: Scenario, on_start: Callable[[], None] | None = None) -> dict[str, Any]:
    """One run of ``scenario`` from the REST trigger to its end, everything answered at once."""
    rid = f"e2e-{scenario.dag_id[:6].replace('_', '')}-{uuid.uuid4().hex[:8]}"
    ctx = Ctx(b, rid, scenario.dag_id, f"bench__{rid}")
    if scenario.prepare:
        scenario.prepare(ctx)
    conf = scenario.conf(ctx)
    if scenario.dag_id == "compliance_scan":
        conf["scan_id"] = rid
    errors: list[str] = []
    answered: set[tuple[str, str]] = set()
    handled_effects: set[str] = set()
    answers: list[float] = []
    if on_start:
        on_start()
    sent = time.time()
    resp = b.api.trigger(scenario.dag_id, ctx.run_id, conf)
    if resp.status_code != 200:
        return {"error": f"trigger: {resp.status_code} {resp.text[:300]}"}
    deadline = time.monotonic() + scenario.timeout_s
    state, end = None, None
    next_effects = 0.0
    while time.monotonic() < deadline:
        runs = family(b, ctx)
        run_ids = [r for _, r in runs]
        now = time.time()
        for dag_id, run_id, task_id, created, assignees, options, pid in b.q(
            "SELECT ti.dag_id, ti.run_id, ti.task_id, h.created_at, h.assignees, h.options, ti.pid"
            " FROM task_instance ti JOIN hitl_detail h ON h.ti_id = ti.id WHERE ti.state = 'awaiting_input'"
            " AND h.responded_at IS NULL AND ti.run_id = ANY(%s)",
            (run_ids,),
        ):
            if (run_id, task_id) in answered or now - created.timestamp() < ANSWER_AGE_S:
                continue
            if pid and psutil.pid_exists(int(pid)):
                # The worker that opened the approval has not exited yet: an answer now is the early answer
                # Airflow 3.3.2 fails (execution_plane.compat.hitl_early_answer); on a loaded machine 1.5 s
                # is not always enough.
                continue
            named = [str(a.get("id")) for a in (assignees or []) if a.get("id")]
            user = named[0] if named else scenario.users.get(task_id, "admin")
            option = _option(scenario, task_id, list(options or []))
            answered.add((run_id, task_id))
            r = b.api.answer(dag_id, run_id, task_id, option, user=user, comment="bench e2e")
            answers.append(now - created.timestamp())
            if r.status_code != 200:
                errors.append(f"answer {task_id} as {user}: {r.status_code} {r.text[:160]}")
        if scenario.on_deferred:
            for (task_id,) in b.q(
                "SELECT task_id FROM task_instance WHERE state = 'deferred' AND run_id = ANY(%s)", (run_ids,)
            ):
                hook = scenario.on_deferred.get(task_id)
                if hook and task_id not in ctx.done:
                    try:
                        if hook(ctx) is not False:
                            ctx.done.add(task_id)
                    except Exception as exc:
                        ctx.done.add(task_id)
                        errors.append(f"{task_id}: {type(exc).__name__}: {exc}"[:200])
        if time.monotonic() >= next_effects:
            next_effects = time.monotonic() + 0.5  # the effect log is the sandbox's whole log: not every poll
            for effect in ctx.effects():
                key = f"{effect.get('system')}/{effect.get('action')}/{effect.get('resource_id')}"
                react = REACTIONS.get((effect.get("system"), effect.get("action")))  # type: ignore[arg-type]
                if react is None or key in handled_effects or rid not in json.dumps(effect):
                    continue
                handled_effects.add(key)
                try:
                    react(ctx, effect)
                except Exception as exc:
                    errors.append(f"{key}: {type(exc).__name__}: {exc}"[:200])
        rows = b.q(
            "SELECT state, end_date FROM dag_run WHERE dag_id = %s AND run_id = %s",
            (scenario.dag_id, ctx.run_id),
        )
        if rows and rows[0][0] in ("success", "failed"):
            state, end = rows[0][0], rows[0][1].timestamp()
            break
        # Nothing here fails on purpose: a task to be retried is a bug; the run is measured up to it.
        # An approval gate's retry is the project's workaround of Airflow 3.3.2's early-answer failure
        # (the retry finds the answer): not a bug, so only other tasks stop it.
        retried = b.q(
            "SELECT ti.task_id FROM task_instance ti LEFT JOIN hitl_detail h ON h.ti_id = ti.id"
            " WHERE ti.state = 'up_for_retry' AND h.ti_id IS NULL AND ti.run_id = ANY(%s)",
            (run_ids,),
        )
        if retried:
            state, end = f"stopped: {retried[0][0]} up_for_retry", time.time()
            break
        time.sleep(POLL_S)
    if end is None:
        state, end = f"stopped: not ended in {scenario.timeout_s:.0f} s", time.time()
    # Before the run is marked failed below (that ends its task instances and hides the one that retried).
    failure = first_failure(b, ctx) if state != "success" else None
    if state not in ("success", "failed"):
        # The rest would only load the machine while the next workflow is measured.
        b.api.request("PATCH", f"/dags/{scenario.dag_id}/dagRuns/{ctx.run_id}", json={"state": "failed"})
    if not hasattr(b, "e2e_workflow_ids"):
        b.e2e_workflow_ids = {}  # type: ignore[attr-defined]
    b.e2e_workflow_ids[scenario.dag_id] = ctx.wf  # type: ignore[attr-defined]
    tries = tries_of(b, family(b, ctx))
    result = breakdown(end - sent, tries, ctx.run_id, downstream_of(b, scenario.dag_id))
    return {
        "run_id": ctx.run_id,
        "state": state,
        "first_failure": failure,
        **result,
        "approvals_answered": len(answers),
        "answer_wait_s": round(sum(answers), 2),
        "outside_events": len(handled_effects) + len(ctx.done),
        "errors": errors,
    }


def run(
    b: Bench,
    names: list[str] | None = None,
    profile: str = "partner_approval",
    budget_s: float = 3600,
    out: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every scenario (or ``names``) once, one after another; py-spy on the scheduler during ``profile``.
    Fills ``out`` as it goes (a run stopped half way keeps what it measured); starts no workflow after
    ``budget_s``."""
    out = {} if out is None else out
    out.update({"answer_age_s": ANSWER_AGE_S, "budget_s": budget_s, "runs": {}, "skipped": {}})
    deployed = {str(r[0]) for r in b.q("SELECT dag_id FROM dag WHERE is_stale IS NOT TRUE")}
    stop_at = time.monotonic() + budget_s
    for name in names or list(SCENARIOS):
        if time.monotonic() > stop_at:
            out["skipped"][name] = f"not run: the section's budget ({budget_s:.0f} s) was spent"
            continue
        if name not in deployed:
            out["skipped"][name] = "not deployed (not committed or not parsed)"
            log(f"e2e {name}: skipped, not deployed")
            continue
        scenario = SCENARIOS[name]
        spy = None
        prof = profiles_dir() / f"e2e-{name}-scheduler.txt"

        def start_spy(path: Any = prof) -> None:
            nonlocal spy
            # Long enough for any run; stopped with SIGINT when the run ends (py-spy then writes its file).
            spy = py_spy_start(b.component_proc("scheduler").pid, 3600, path, subprocesses=True)

        try:
            res = drive(b, scenario, start_spy if name == profile else None)
        except Exception as exc:
            res = {"state": "error", "errors": [f"{type(exc).__name__}: {exc}"[:300]]}
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
            res["profile"] = py_spy_top(prof, 10)
            res["profile_file"] = str(prof)
        out["runs"][name] = res
        log(
            f"e2e {name}: {res.get('state')} in {res.get('wall_s')} s, {res.get('task_instances')} tasks,"
            f" path {res.get('critical_path_s')} s, scheduling {res.get('scheduling_share_pct')} %"
            + (f", errors {res['errors'][:2]}" if res.get("errors") else "")
        )
    return out


def markdown_lines(found: dict[str, Any] | None) -> list[str]:
    """The section of the markdown report (``results["workflows_e2e"]``)."""
    if not found:
        return []
    lines = [
        "",
        "## End to end, every durable and medium workflow, instant answers (issue 17)",
        "",
        f"One run each, started by REST; approvals answered {found.get('answer_age_s')} s after they open"
        " (Airflow 3.3.2's earliest), outside events at once via the sandbox. Task work: the tries' run time"
        " summed (waits included); critical path: the heaviest path through the DAG's tasks;"
        " scheduling share: (wall - critical path) / wall.",
        "",
        "| workflow | end | wall s | tasks | task work s | critical path s | approvals (wait s)"
        " | scheduling share |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in found.get("runs", {}).items():
        lines.append(
            f"| {name} | {r.get('state')} | {r.get('wall_s', '-')} | {r.get('task_instances', '-')} |"
            f" {r.get('task_work_s', '-')} | {r.get('critical_path_s', '-')} |"
            f" {r.get('approvals_answered', '-')} ({r.get('answer_wait_s', '-')}) |"
            f" {r.get('scheduling_share_pct', '-')} % |"
        )
    for name, why in found.get("skipped", {}).items():
        lines.append(f"| {name} | skipped: {why} | | | | | | |")
    for name, r in found.get("runs", {}).items():
        prof = r.get("profile")
        if not prof:
            continue
        lines += ["", f"py-spy, scheduler (+ its workers and task processes) during one {name} run:", ""]
        for level, data in prof.items():
            hot = ", ".join(f"{f} {share:.0%}" for f, share in data.get("hot", []))
            lines.append(f"- {level}: {data.get('cpu_s')} CPU s; {hot}")
    return lines


if __name__ == "__main__":  # pragma: no cover - `python -m bench.run --only e2e` is the way in
    raise SystemExit("run it as: python -m bench.run --only e2e")
