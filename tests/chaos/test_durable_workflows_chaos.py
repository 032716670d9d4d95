"""The durable workflows under fire: crashes, a Postgres restart, outside outages, duplicated and reordered
webhooks. Nothing may be lost or repeated, and every run must end as its people decided.

Its own stack on its own throwaway PostgreSQL cluster (its own temp data directory, a free port), so
the test can restart that server; the machine's shared server is never touched. The stack is the project's
(`devtools.stack.setup` + `Stack`, profile `chaos`); a supervisor thread restarts whatever dies, as an
operator's process supervisor would.

Runs: `EP_CHAOS_RUNS` (default 10) of each of the three priority workflows, partner_approval, dd_room and
signature_commitment, all started by CRM webhooks (the plans cycle so that ten runs reach every ending: each
partner_approval ending with the partner's answer early and late, dd_room's rejection by each of the five
workstream leads and by the committee, a signature declined with each of the deal desk's choices); and
`EP_CHAOS_LONG_RUNS` (default 2: a happy ending and a compensated one) of each long-lived workflow
(tests/chaos/plans.py): ma_offer (counsel and advisor opinions, the board, the regulator's acknowledgement and
clearance, the target's answer, a signing child run) and geo_expansion_launch (the regulator, one or two
partner-contract child runs, the region's callback, the launch lead's scale decision), started through the
REST API, and pmi_program (Day-1 readiness, the banks' mandates and the registry's filing confirmed, the
Day-30/60/90 reviews), started by the CRM's webhook. Each run has a plan (approve, reject at a stage, partner
declines, signer declines, the target rejects, the lead rolls back, a review stops the program, ...) that a
driver carries out through public interfaces only: approvals through the REST API as the assigned user;
partner answers, eSign status changes and every other outside party's answer as signed webhooks posted to the
live ingress.

Faults, each at a moment chosen by the state of the runs. The people, partners and signers of half the runs
hold their answers until the parked-time faults have fired, so those faults find runs parked on any machine:
- every webhook is delivered twice, and each batch is shuffled across runs and workflows; partner answers for
  half the partner runs arrive before the run waits for them; a stale `envelope.sent` follows each signer's
  action;
- Postgres is restarted (immediate shutdown, as a crash) while the CRM webhooks starting the runs are
  being received, and again while runs wait on people and signatures;
- the triggerer, the scheduler (twice: with runs parked, and with compensations in flight), the
  dag-processor and the API server are SIGKILLed;
- task processes are SIGKILLed while running: one inside a slow eSign call, others at random;
- eSign answers 503 to everything for 20 s, email loses responses (504 after the effect), CRM answers 503.

Checked at the end: every run terminal as planned (success or failed), each rejected run compensated by
exactly one saga_compensation run; in the sandbox's effect log every side effect and every undo exactly
once (per idempotency key, per key and user for a notification campaign, and per message id); every webhook
copy that got a 2xx stored once; no answer lost (an approval answered 200 never asked again); every outside
party's act taken. The counts are printed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools import env as ep_env
from devtools.env import free_port
from devtools.postgres import EmbeddedPostgres
from devtools.stack import Setup, Stack, project_dag_ids, setup
from execution_plane.saga.keys import step_key
from include.domain.common import canonical_json, sha256_hex
from tests.chaos.plans import Plan, geo_plans, ma_offer_plans, pmi_plans
from tests.chaos.support import (
    Db,
    Delivery,
    Kill,
    Provider,
    Supervisor,
    esign_call_in_flight,
    kill_task_process,
    task_processes,
    utc_now_iso,
)
from tests.support.airflow_client import AirflowClient
from tests.support.stack_env import QUIET_PARSING
from workflows.signature_commitment.domain import issue_token

pytestmark = [pytest.mark.chaos, pytest.mark.live, pytest.mark.timeout(2700)]

PER_WORKFLOW = int(os.environ.get("EP_CHAOS_RUNS", "10"))
# Runs of each long-lived workflow (ma_offer, geo_expansion_launch, pmi_program): even a happy ending, odd a
# compensated one; their signing children are runs of their own.
PER_LONG_WORKFLOW = int(os.environ.get("EP_CHAOS_LONG_RUNS", "2"))
DEADLINE_S = float(os.environ.get("EP_CHAOS_DEADLINE_S", "1800"))
PEOPLE_DELAY_S = 1.5  # nobody answers faster (Airflow 3.3.2 fails an answer given in the first second)
WORKSTREAMS = ("financial", "legal", "technical", "product", "security")
TERMS = {"revenue_share_pct": 20, "term_months": 24, "territory": ["AE", "SA"], "exclusivity": False}
PA, DD, SC = "partner_approval", "dd_room", "signature_commitment"
# The signature workflow's ledger step that calls eSign's create_envelope: its idempotency key is the one the
# sandbox sees, which tells whether that call is executing right now.
ENVELOPE_STEP = "signature_request.envelope"
SLOW_ESIGN_S = 6.0
# Undos that always reach an outside system: one effect each in the sandbox, under the undo's own key. (A
# void needs no effect when the signer declined; an undo may also call under keys derived from its own,
# `<undo key>:<part>`, as the void notice to each party does.)
# Calls the provider records as one effect per recipient (the campaign's users), all under the call's key.
PER_RECIPIENT = {("notify", "notify_user")}
OUTSIDE_UNDOS = ("crm.set_partner_status", "crm.set_deal_status", "message.notify")


# ------------------------------------------------------------------------------------------------ the stack
@dataclass
class Chaos:
    setup: Setup
    stack: Stack
    pg: EmbeddedPostgres
    supervisor: Supervisor
    meta: Db
    business: Db
    af: AirflowClient
    sandbox: httpx.Client
    provider: Provider
    secrets: dict[str, str]
    pg_restarts: list[str] = field(default_factory=list)

    def restart_postgres(self, why: str, down_s: float = 2.0) -> None:
        """A crash and a restart: immediate shutdown (no checkpoint, clients cut off), then start again."""
        self.pg.stop("immediate")
        time.sleep(down_s)
        self.pg.start(timeout=60)
        self.pg_restarts.append(why)


@pytest.fixture(scope="module")
def chaos() -> Iterator[Chaos]:
    pg_port = free_port()
    # Not under pytest's tmp_path: pytest deletes all but the last 3 base temp dirs when a session starts,
    # which removed a running cluster's data directory under this test when another pytest started.
    datadir = Path(tempfile.mkdtemp(prefix="ep-chaos-pg-"))
    pg = EmbeddedPostgres(datadir / "pgdata", pg_port)
    pg.start(timeout=60)
    saved = {k: os.environ.get(k) for k in ("EP_PROFILE", "EP_POSTGRES_URL", "EP_POSTGRES")}
    os.environ.update(
        {"EP_PROFILE": "chaos", "EP_POSTGRES_URL": f"postgresql://postgres@127.0.0.1:{pg_port}"}
    )
    stack: Stack | None = None
    supervisor: Supervisor | None = None
    try:
        s = setup(ep_env.Ports(api=free_port(), sandbox=free_port()))
        s.env.update(
            {
                "EP_RECONCILER_GRACE_S": "5",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
                **QUIET_PARSING,
            }
        )
        stack = Stack(s, log_dir=ep_env.airflow_home() / "chaos-logs")
        stack.start_sandbox()
        stack.start_airflow()
        stack.wait_healthy(timeout=240)
        stack.wait_dags_and_unpause(project_dag_ids(), timeout=240)
        supervisor = Supervisor(stack)
        supervisor.start()
        values = ep_env.settings_values(s.pg, s.ports, s.secrets)
        meta_url = s.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace(
            "postgresql+psycopg2://", "postgresql://"
        )
        yield Chaos(
            setup=s,
            stack=stack,
            pg=pg,
            supervisor=supervisor,
            meta=Db(meta_url),
            business=Db(s.business_db_url),
            af=AirflowClient(stack.api_url, s.secrets.user_passwords),
            sandbox=httpx.Client(base_url=stack.sandbox_url, timeout=30),
            provider=Provider(stack.api_url),
            secrets={
                "crm": values["EP_WEBHOOK_CRM_SECRET"],
                "esign": values["EP_WEBHOOK_ESIGN_SECRET"],
                "events": values["EP_WEBHOOK_EVENTS_SECRET"],
                "approval_token": s.secrets.approval_token_secret,
            },
        )
    finally:
        if supervisor is not None:
            supervisor.stop()
        if stack is not None:
            stack.stop()
        pg.stop("immediate")
        shutil.rmtree(datadir, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ------------------------------------------------------------------------------------------------- the plans
def partner_plan(i: int) -> Plan:
    rid = f"cpa-{i:02d}-{uuid.uuid4().hex[:6]}"
    kind = ("happy", "legal_reject", "happy", "partner_declined", "exec_reject")[i % 5]
    answers = {"manager_approval": ("Approve", "manager")}
    answers["round_1.legal_review"] = ("Reject" if kind == "legal_reject" else "Approve", "legal")
    if kind in ("happy", "exec_reject"):
        answers["executive_approval"] = ("Reject" if kind == "exec_reject" else "Approve", "executive")
    ok = kind == "happy"
    return Plan(
        PA,
        kind,
        rid,
        {"request_id": rid, "partner_id": f"P-{rid}", "requested_by": "chaos"},
        answers,
        "success" if ok else "failed",
        "completed" if ok else "compensated",
        partner_event=None
        if kind == "legal_reject"
        else ("partner.declined" if kind == "partner_declined" else "partner.accepted"),
        partner_early=i % 2 == 0,
    )


def dd_plan(i: int) -> Plan:
    rid = f"cdd-{i:02d}-{uuid.uuid4().hex[:6]}"
    # Odd runs: a workstream lead rejects, each workstream in turn (ten runs reach all five); even runs: the
    # investment committee approves or rejects.
    kind = "lead_reject" if i % 2 else ("happy", "ic_reject")[i // 2 % 2]
    answers = {f"{ws}.lead_signoff": ("Approve", "dd_lead") for ws in WORKSTREAMS}
    if kind == "lead_reject":
        answers[f"{WORKSTREAMS[i // 2 % 5]}.lead_signoff"] = ("Reject", "dd_lead")
    else:
        answers["ic_review"] = ("Reject" if kind == "ic_reject" else "Approve", "ic_member")
    ok = kind == "happy"
    conf = {
        "request_id": rid,
        "deal_id": f"deal-{rid}",
        "target_company": "Acme Robotics",
        "target_contact_email": f"{rid}@target.example",
        "base_valuation_usd": 25_000_000,
    }
    return Plan(
        DD, kind, rid, conf, answers, "success" if ok else "failed", "completed" if ok else "compensated"
    )


def signature_plan(i: int, token_secret: str) -> Plan:
    rid = f"csc-{i:02d}-{uuid.uuid4().hex[:6]}"
    signed = i % 2 == 0
    conf = {
        "request_id": rid,
        "deal_id": f"deal-{rid}",
        "partner_id": "P-STRONG-1",
        "terms": TERMS,
        "approval_token": issue_token(
            token_secret,
            workflow_key=f"{SC}:{rid}",
            terms_sha256=sha256_hex(canonical_json(TERMS)),
            approver="exec@execution-plane.example",
            issued_at=int(time.time()),
            ttl_s=6 * 3600,
        ),
        "signer_email": f"{rid}@partner.example",
        "signer_name": "Dana Signer",
    }
    answers = (
        {} if signed else {"renegotiate_choice": (("Re-negotiate", "Close deal")[i % 4 // 2], "deal_desk")}
    )
    return Plan(
        SC,
        "signed" if signed else "declined",
        rid,
        conf,
        answers,
        "success" if signed else "failed",
        "completed" if signed else "compensated",
        signer_action="sign" if signed else "decline",
    )


# ------------------------------------------------------------------------------------------------ the driver
class Driver:
    """Carries out every run's plan from the state of its tasks, and fires each fault once its moment has
    come. Reads Airflow's state from the metadata database (no load on the API server that also hosts the
    webhook ingress); acts only through the REST API and the webhook routes."""

    def __init__(self, c: Chaos, plans: list[Plan]) -> None:
        self.c = c
        self.plans = {p.run_id: p for p in plans}
        self.dag_ids = sorted({p.dag_id for p in plans})
        self.acted: set[tuple[str, str]] = set()  # (run, act) taken
        # Half the runs' people (and partners, and signers) hold their answers until the Postgres restart
        # "while runs wait" has happened, so that runs are parked when the parked-time faults fire however
        # fast the machine is (on a quick machine nobody waited long enough for the faults' moment to come).
        # The other half keep moving: some runs are mid-task or mid-compensation at the same moments.
        self.held = {p.run_id for p in plans[::2]}
        self.holding = True
        self.seen_waiting: dict[tuple[str, str, int], float] = {}
        self.answered: dict[tuple[str, str], tuple[int, float]] = {}  # (run, task) -> (try, when answered)
        self.answers_ok = 0
        self.answer_errors: Counter[str] = Counter()
        self.lost_answers: list[tuple[str, str, int, int, int]] = []  # run, task, try, answered try, s
        self.slowest_resume = 0.0
        self.partner_sent: set[str] = set()
        self.signer_done: set[str] = set()
        self.fired: dict[str, float] = {}
        self.started = time.monotonic()
        self.task_kills: list[str] = []
        self.kills: list[Kill] = []  # every task process killed, each checked alive and that task's, and dead
        self.in_flight_kill: tuple[str, str, float] | None = None  # (workflow, envelope key, when killed)
        self.slow_esign_armed_at = 0.0
        self.slow_esign_taken_at: float | None = None  # when the driver first saw the slow fault taken
        self.slow_esign_arms = 0
        self.faults: list[dict[str, Any]] = []

    # -- reading state
    def task_rows(self) -> dict[str, dict[str, tuple[str, int, str]]] | None:
        rows = self.c.meta.rows(
            "SELECT run_id, task_id, coalesce(state, ''), try_number, id::text FROM task_instance"
            " WHERE dag_id = ANY(%s) AND run_id = ANY(%s)",
            self.dag_ids,
            list(self.plans),
        )
        if rows is None:
            return None
        out: dict[str, dict[str, tuple[str, int, str]]] = {}
        for run_id, task_id, state, try_number, ti_id in rows:
            out.setdefault(run_id, {})[task_id] = (state, try_number, ti_id)
        return out

    def run_states(self) -> dict[str, str] | None:
        rows = self.c.meta.rows(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ANY(%s) AND run_id = ANY(%s)",
            self.dag_ids,
            list(self.plans),
        )
        return None if rows is None else {str(r[0]): str(r[1]) for r in rows}

    def compensation_states(self) -> dict[str, str] | None:
        rows = self.c.meta.rows(
            "SELECT run_id, state FROM dag_run WHERE dag_id = 'saga_compensation' AND run_id = ANY(%s)",
            [f"compensate__{p.workflow_id}" for p in self.plans.values()],
        )
        return None if rows is None else {str(r[0]): str(r[1]) for r in rows}

    # -- acting as people
    def waits(self, run_id: str) -> bool:
        return self.holding and run_id in self.held

    def answer_people(self, tis: dict[str, dict[str, tuple[str, int, str]]]) -> None:
        now = time.monotonic()
        for run_id, plan in self.plans.items():
            if self.waits(run_id):
                continue
            for task_id, (option, user) in plan.answers.items():
                state, try_number, ti_id = tis.get(run_id, {}).get(task_id, ("", 0, ""))
                if state != "awaiting_input":
                    continue
                first = self.seen_waiting.setdefault((run_id, task_id, try_number), now)
                done = self.answered.get((run_id, task_id))
                if done is not None:
                    if try_number <= done[0] and not self.erased(ti_id, now - done[1]):
                        # Answered; the run resumes when the triggerer sees it (after a triggerer or
                        # Postgres restart that can take a while): not a loss, only slow.
                        self.slowest_resume = max(self.slowest_resume, now - done[1])
                        continue
                    # Asked again (a later try, or the answer erased from this try's detail): lost.
                    if (run_id, task_id, try_number) not in {x[:3] for x in self.lost_answers}:
                        self.lost_answers.append((run_id, task_id, try_number, done[0], round(now - done[1])))
                if now - first < PEOPLE_DELAY_S:
                    continue
                try:
                    resp = self.c.af.answer(plan.dag_id, run_id, task_id, option, user=user, comment="chaos")
                except httpx.HTTPError as exc:
                    self.answer_errors[type(exc).__name__] += 1
                    continue
                if resp.status_code == 200:
                    self.answered[(run_id, task_id)] = (try_number, now)
                    self.answers_ok += 1
                else:
                    self.answer_errors[str(resp.status_code)] += 1

    def erased(self, ti_id: str, since_answer_s: float) -> bool:
        """A 200 answer no longer on the task's HITL detail, while the task still waits for one."""
        if since_answer_s < 30:
            return False
        rows = self.c.meta.rows("SELECT responded_at IS NULL FROM hitl_detail WHERE ti_id = %s::uuid", ti_id)
        return bool(rows and rows[0][0])

    # -- acting as the partner and the signer
    def partner_events(self, tis: dict[str, dict[str, tuple[str, int, str]]]) -> None:
        for run_id, plan in self.plans.items():
            if plan.partner_event is None or run_id in self.partner_sent or self.waits(run_id):
                continue
            mine = tis.get(run_id, {})
            ready = (
                (run_id, "manager_approval") in self.answered
                if plan.partner_early
                else mine.get("round_1.partner_response", ("",))[0] == "deferred"
            )
            if not ready:
                continue
            self.partner_sent.add(run_id)
            body = {
                "event_id": f"answer-{plan.request_id}",
                "type": plan.partner_event,
                "correlation_key": f"{PA}:{plan.request_id}:round:1",
                "occurred_at": utc_now_iso(),
                "payload": {"note": "chaos"},
            }
            self.c.provider.queue(Delivery("/events/partner", self.c.secrets["events"], body))

    def signer_events(self, tis: dict[str, dict[str, tuple[str, int, str]]]) -> None:
        waiting = [
            p
            for run_id, p in self.plans.items()
            if p.signer_action
            and run_id not in self.signer_done
            and not self.waits(run_id)
            and tis.get(run_id, {}).get("wait_for_signature", ("",))[0] == "deferred"
        ]
        for plan in waiting:
            rows = self.c.business.rows(
                "SELECT envelope_id FROM signature_requests WHERE workflow_id = %s", plan.workflow_id
            )
            if not rows or not rows[0][0]:
                continue
            envelope = str(rows[0][0])
            try:
                resp = self.c.sandbox.post(
                    f"/_sandbox/esign/envelopes/{envelope}/{plan.signer_action}", params={"deliver": "false"}
                )
            except httpx.HTTPError:
                continue
            resp.raise_for_status()
            event = resp.json()["event"]
            self.signer_done.add(plan.run_id)
            self.c.provider.queue(Delivery("/esign", self.c.secrets["esign"], event))
            # A stale status webhook arriving after the signer's: out of order, must change nothing.
            stale = {
                **event,
                "event_id": f"{event['envelope_id']}-sent",
                "type": "envelope.sent",
                "occurred_at": resp.json()["envelope"]["sent_at"],
            }
            self.c.provider.queue(Delivery("/esign", self.c.secrets["esign"], stale))

    # -- acting as the long workflows' outside parties (counsel, advisors, regulator, target, banks, ...)
    def outside_acts(self, tis: dict[str, dict[str, tuple[str, int, str]]]) -> None:
        for run_id, plan in self.plans.items():
            if self.waits(run_id):
                continue
            for act in plan.acts:
                if (run_id, act.name) in self.acted:
                    continue
                if tis.get(run_id, {}).get(act.task_id, ("",))[0] not in act.when:
                    continue
                try:
                    events = act.events(self.c)
                except httpx.HTTPError:
                    continue  # the sandbox is busy: again next second
                if events is None:
                    continue
                self.acted.add((run_id, act.name))
                for path, event in events:
                    self.c.provider.queue(Delivery(path, self.c.secrets["events"], event))

    # -- faults
    def once(self, name: str) -> bool:
        if name in self.fired:
            return False
        self.fired[name] = round(time.monotonic() - self.started, 1)
        return True

    def killed(self, kill: Kill | None) -> bool:
        if kill is None:
            return False
        self.kills.append(kill)
        self.task_kills.append(kill.target)
        return True

    def kill_task(self, tis: dict[str, dict[str, tuple[str, int, str]]]) -> bool:
        """SIGKILL the process of one running task; True if one was killed (it was alive, and it died)."""
        procs = task_processes()
        running = [
            (run_id, task_id, ti_id)
            for run_id, mine in tis.items()
            for task_id, (state, try_number, ti_id) in mine.items()
            # A task has 3 retries: never the kill that could be its last try (outages may have used two).
            if state == "running" and try_number <= 2 and ti_id in procs
        ]
        if not running:
            return False
        run_id, task_id, ti_id = random.choice(running)
        return self.killed(kill_task_process(procs[ti_id], ti_id, f"{self.plans[run_id].dag_id}.{task_id}"))

    def arm_slow_esign(self) -> None:
        """The next create_envelope call spends SLOW_ESIGN_S inside the provider, in the work itself."""
        self.fault(
            system="esign", action="create_envelope", mode="slow", status=503, delay_s=SLOW_ESIGN_S, count=1
        )
        self.slow_esign_armed_at = time.monotonic()
        self.slow_esign_taken_at = None
        self.slow_esign_arms += 1

    def kill_in_slow_esign_call(self, tis: dict[str, dict[str, tuple[str, int, str]]]) -> bool:
        """SIGKILL a send_signature_request task while the sandbox executes its eSign call; True if done.

        Only once the slow fault was taken (a probe would take it otherwise), one loop later (a probe as
        the call starts could claim its key first), and only the task whose envelope key the sandbox reports
        in flight. A slow call of a task on its last tries passes; the fault is then armed again."""
        if any(f["system"] == "esign" for f in self.c.sandbox.get("/_sandbox/faults").json()["faults"]):
            return False
        if self.slow_esign_taken_at is None:
            self.slow_esign_taken_at = time.monotonic()
            return False
        procs = task_processes()
        for run_id, mine in tis.items():
            state, try_number, ti_id = mine.get("send_signature_request", ("", 0, ""))
            if state != "running" or try_number > 2 or ti_id not in procs:
                continue
            plan = self.plans[run_id]
            key = step_key(plan.workflow_id, ENVELOPE_STEP)
            if not esign_call_in_flight(self.c.sandbox, key):
                continue
            kill = kill_task_process(procs[ti_id], ti_id, f"{plan.dag_id}.send_signature_request")
            if self.killed(kill):
                assert kill is not None
                self.in_flight_kill = (plan.workflow_id, key, kill.at)
                return True
        if time.monotonic() - self.slow_esign_armed_at > SLOW_ESIGN_S + 2:
            self.arm_slow_esign()
        return False

    def fault(self, **spec: Any) -> None:
        resp = self.c.sandbox.post("/_sandbox/faults", json=spec)
        resp.raise_for_status()
        self.faults.append(spec)


def elapsed_since(d: Driver) -> float:
    return time.monotonic() - d.started


def start_runs(c: Chaos, plans: list[Plan]) -> Counter[int | None]:
    """The CRM starts its runs (each webhook twice, all shuffled); Postgres restarts while they arrive. Then
    the runs a person starts through the REST API (retried until Airflow has the run)."""
    for plan in (p for p in plans if p.start == "crm"):
        body = {
            "event_id": plan.event_id,
            "workflow": plan.dag_id,
            "occurred_at": utc_now_iso(),
            "payload": plan.conf,
        }
        c.provider.queue(Delivery("/crm/events", c.secrets["crm"], body))
    sender = threading.Thread(target=c.provider.flush, name="crm-webhooks")
    sender.start()
    third = sum(p.start == "crm" for p in plans) * 2 // 3
    while c.provider.attempts < third and sender.is_alive():
        time.sleep(0.05)
    c.restart_postgres("while the CRM webhooks starting the runs were being received")
    sender.join()
    deadline = time.monotonic() + 300
    while c.provider.pending() and time.monotonic() < deadline:
        time.sleep(1)
        c.provider.flush()
    assert c.provider.pending() == 0, "CRM webhooks never accepted"
    for plan in (p for p in plans if p.start == "rest"):
        deadline = time.monotonic() + 300
        while True:
            try:
                status = c.af.trigger(plan.dag_id, plan.run_id, plan.conf).status_code
            except httpx.HTTPError:
                status = None
            if status in (200, 409):  # 409: an earlier attempt created it (its answer was lost)
                break
            assert status is None or status >= 500, (plan.run_id, status)
            assert time.monotonic() < deadline, f"{plan.run_id} never started"
            time.sleep(1)
    return Counter(s for d in c.provider.sent for s in d.statuses)


def test_durable_workflows_survive_chaos(chaos: Chaos) -> None:
    c = chaos
    seed = int(time.time())
    random.seed(seed)
    c.sandbox.post("/_sandbox/reset").raise_for_status()
    plans = (
        [partner_plan(i) for i in range(PER_WORKFLOW)]
        + [dd_plan(i) for i in range(PER_WORKFLOW)]
        + [signature_plan(i, c.secrets["approval_token"]) for i in range(PER_WORKFLOW)]
        + [
            p
            for make in (ma_offer_plans, geo_plans, pmi_plans)
            for i in range(PER_LONG_WORKFLOW)
            for p in make(i)
        ]
    )
    d = Driver(c, plans)
    for plan in plans:
        if plan.crm_deal_closed:  # sales closed the deal in the CRM before its program starts
            c.sandbox.patch(
                f"/crm/v1/deals/{plan.conf['deal_id']}",
                json={"status": "closed_won"},
                headers={"Authorization": "Bearer chaos"},
            ).raise_for_status()
    # Outside systems misbehave from the start: eSign down (until cleared below), email responses lost after
    # the effect, CRM refusing a few calls, one slow eSign call that a kill -9 interrupts.
    d.fault(system="esign", action=None, mode="error", status=503, delay_s=0, count=100_000)
    d.fault(system="email", action="send", mode="drop", status=504, delay_s=0, count=4)
    d.fault(system="crm", action=None, mode="error", status=503, delay_s=0, count=5)
    crm_statuses = start_runs(c, plans)
    d.started = time.monotonic()  # the faults' moments count from here
    last_random_kill = 0.0

    deadline = time.monotonic() + DEADLINE_S
    runs: dict[str, str] = {}
    comps: dict[str, str] = {}
    while time.monotonic() < deadline:
        time.sleep(1.0)
        tis = d.task_rows()
        run_states = d.run_states()
        comp_states = d.compensation_states()
        if tis is None or run_states is None or comp_states is None:
            continue  # Postgres is away; so is everyone else
        runs, comps = run_states, comp_states
        d.answer_people(tis)
        d.partner_events(tis)
        d.signer_events(tis)
        d.outside_acts(tis)
        if (
            c.provider.pending()
            and elapsed_since(d) > 30
            and "API server killed while webhooks arrive" not in d.fired
            and c.supervisor.kill("api-server")
        ):
            d.once("API server killed while webhooks arrive")
        c.provider.flush()
        elapsed = time.monotonic() - d.started

        def count(dag_id: str, task_id: str, state: str, tis: Any = tis) -> int:
            return sum(
                tis.get(r, {}).get(task_id, ("",))[0] == state
                for r, p in d.plans.items()
                if p.dag_id == dag_id
            )

        if elapsed > 20 and d.once("esign back after a 20 s outage"):
            c.sandbox.delete("/_sandbox/faults").raise_for_status()
            d.arm_slow_esign()
        if (
            "esign back after a 20 s outage" in d.fired
            and "kill -9 a task inside a slow eSign call" not in d.fired
            and d.kill_in_slow_esign_call(tis)
        ):
            d.once("kill -9 a task inside a slow eSign call")
        # Runs parked on a person or a signature (any gate awaiting input, any wait deferred) right now.
        parked = sum(
            any(state in ("awaiting_input", "deferred") for state, _, _ in tis.get(r, {}).values())
            for r in d.plans
        )
        if (
            parked >= max(1, PER_WORKFLOW // 2)
            and "triggerer + scheduler killed with runs parked" not in d.fired
        ):
            # Both at one moment, or neither (one may be down after a Postgres restart, awaiting its restart).
            if c.supervisor.kill("triggerer", "scheduler"):
                d.once("triggerer + scheduler killed with runs parked")
        elif (
            "triggerer + scheduler killed with runs parked" in d.fired
            and elapsed - d.fired["triggerer + scheduler killed with runs parked"] > 30
            and parked >= 1  # the held runs still wait
            and d.once("Postgres restarted while runs wait on people and signatures")
        ):
            c.restart_postgres("while runs wait on people and signatures")
            d.holding = False  # the held runs' people answer now
        random_kills = sum(k.startswith("random:") for k in d.fired)
        if elapsed > 60 and random_kills < 3 and elapsed - last_random_kill > 20 and d.kill_task(tis):
            d.once(f"random: kill -9 a running task #{random_kills + 1} ({d.task_kills[-1]})")
            last_random_kill = elapsed
        if elapsed > 90 and "dag-processor killed" not in d.fired and c.supervisor.kill("dag-processor"):
            d.once("dag-processor killed")
        if (
            any(s == "running" for s in comp_states.values())
            and "scheduler killed mid-compensation" not in d.fired
            and c.supervisor.kill("scheduler")
        ):
            d.once("scheduler killed mid-compensation")
        if "scheduler killed mid-compensation" in d.fired and "kill -9 a compensation task" not in d.fired:
            comp_tis = c.meta.rows(
                "SELECT id::text FROM task_instance WHERE dag_id = 'saga_compensation' AND state = 'running'"
            )
            procs = task_processes()
            victims = [r[0] for r in comp_tis or [] if r[0] in procs]
            # None running this second (or it ended before the kill): try again next second.
            if victims and d.killed(kill_task_process(procs[victims[0]], victims[0], "saga_compensation")):
                d.once("kill -9 a compensation task")
        all_done = all(runs.get(r) in ("success", "failed") for r in d.plans)
        comps_done = all(
            comps.get(f"compensate__{p.workflow_id}") in ("success", "failed")
            for p in d.plans.values()
            if p.expect_saga == "compensated"
        )
        if all_done and comps_done and c.provider.pending() == 0:
            break
    elapsed_total = round(time.monotonic() - d.started, 1)

    # ---------------------------------------------------------------------------------------- the verdict
    workflow_ids = [p.workflow_id for p in plans]
    comp_runs = c.meta.rows(
        "SELECT run_id, state FROM dag_run WHERE dag_id = 'saga_compensation' AND run_id = ANY(%s)",
        [f"compensate__{w}" for w in workflow_ids],
    )
    sagas = dict(
        c.business.rows(
            "SELECT workflow_id, status FROM saga_workflows WHERE workflow_id = ANY(%s)", workflow_ids
        )
        or []
    )
    compensated_ids = [p.workflow_id for p in plans if p.expect_saga == "compensated"]
    undoable = c.business.rows(
        "SELECT workflow_id, step, status, compensation_action FROM saga_steps"
        " WHERE workflow_id = ANY(%s) AND compensation_action IS NOT NULL",
        compensated_ids,
    )
    durations = c.meta.rows(
        "SELECT extract(epoch FROM max(end_date) - min(start_date)),"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM end_date - start_date))"
        " FROM dag_run WHERE run_id = ANY(%s)",
        list(d.plans),
    )
    stored = {
        str(r[0]).split(":", 1)[-1] for r in c.business.rows("SELECT event_id FROM external_events") or []
    }
    effects = c.sandbox.get("/_sandbox/effects").json()["effects"]
    assert comp_runs is not None and undoable is not None and durations is not None

    # Nothing accepted is lost: every outside event with a 2xx copy is stored; every CRM event has its run.
    accepted = {x.event_id for x in c.provider.sent if x.accepted_copies and x.path != "/crm/events"}
    lost_events = accepted - stored
    # Every side effect and every undo exactly once: per idempotency key, and per message id.
    # A user-notification campaign is one call that notifies each user of its audience once: one effect per
    # user under the campaign's key, so its unit is (key, user).
    keyed = Counter(
        (e["system"], e["action"], e["idempotency_key"])
        + ((e["resource_id"],) if (e["system"], e["action"]) in PER_RECIPIENT else ())
        for e in effects
        if e["idempotency_key"]
    )
    duplicates = {k: n for k, n in keyed.items() if n > 1}
    per_message = Counter(
        (e["system"], e["payload"].get("message_id")) for e in effects if e["action"] == "send"
    )
    duplicate_messages = {k: n for k, n in per_message.items() if n > 1}
    # Content-addressed calls (docstore objects and rooms) carry no key: their resource id is the key.
    unkeyed = Counter(
        (e["system"], e["action"], e["resource_id"]) for e in effects if not e["idempotency_key"]
    )
    duplicates.update({k: n for k, n in unkeyed.items() if n > 1})
    envelopes = Counter(
        e["payload"].get("correlation_key") for e in effects if e["action"] == "create_envelope"
    )
    # Compensation did something, per compensated run: steps undone, and their undos seen by the outside
    # systems (each undo calls with its own key, made from the workflow and the step, or a key derived
    # from it).
    by_key = Counter(e["idempotency_key"] for e in effects if e["idempotency_key"])
    undone = Counter(wf for wf, _, status, _ in undoable if status == "compensated")
    not_undone = [(wf, step, status) for wf, step, status, _ in undoable if status != "compensated"]
    undo_keys = {
        wf: {step_key(wf, "compensate", step) for w, step, _, _ in undoable if w == wf} for wf in undone
    }

    def undo_of(wf: str, key: str) -> bool:
        return key in undo_keys.get(wf, set()) or key.rpartition(":")[0] in undo_keys.get(wf, set())

    undo_effects = {wf: sum(n for k, n in by_key.items() if undo_of(wf, k)) for wf in compensated_ids}
    outside_undos_not_once = {
        (wf, step, action): by_key[step_key(wf, "compensate", step)]
        for wf, step, _, action in undoable
        if action in OUTSIDE_UNDOS and by_key[step_key(wf, "compensate", step)] != 1
    }
    # The kill inside the slow eSign call: the sandbox was executing that task's call when it died, and
    # finished it afterwards; the retry got the stored answer (one envelope).
    in_flight_envelope: list[dict[str, Any]] = []
    if d.in_flight_kill is not None:
        victim, envelope_key, killed_at = d.in_flight_kill
        in_flight_envelope = [
            e
            for e in effects
            if e["action"] == "create_envelope" and e["payload"].get("correlation_key") == victim
        ]
    figures = {
        "seed": seed,
        "runs": {dag: sum(p.dag_id == dag for p in plans) for dag in d.dag_ids},
        "signing_children": sum(p.start == "parent" for p in plans),
        "plans": dict(Counter(f"{p.dag_id}:{p.kind}" for p in plans)),
        "seconds_after_start": elapsed_total,
        "run_seconds": {"all": durations[0][0], "p50": durations[0][1]},
        "component_kills": dict(c.supervisor.kills),
        "restarts_by_supervisor": dict(c.supervisor.restarts),
        "task_processes_killed": d.task_kills,
        "postgres_restarts": c.pg_restarts,
        "outside_faults": [f"{f['system']}.{f['action'] or '*'} {f['mode']} x{f['count']}" for f in d.faults],
        "faults_fired_at_s": d.fired,
        "webhooks": {
            "events": len(c.provider.sent),
            "copies_accepted": sum(x.accepted_copies for x in c.provider.sent),
            "attempts": c.provider.attempts,
            "refused_then_retried": {str(k): v for k, v in c.provider.refused.items()},
            "crm_statuses": {str(k): v for k, v in crm_statuses.items()},
        },
        "answers": {
            "accepted": d.answers_ok,
            "errors_then_retried": dict(d.answer_errors),
            "slowest_answer_to_resume_s": round(d.slowest_resume, 1),
            "asked_again_on_a_later_try": d.lost_answers,
        },
        "effects": len(effects),
        "effects_by_action": dict(Counter(f"{e['system']}.{e['action']}" for e in effects)),
        "compensated_steps": sum(undone.values()),
        "undo_effects": sum(undo_effects.values()),
        "slow_esign_faults_armed": d.slow_esign_arms,
        "outside_acts": len(d.acted),
        "duplicates": len(duplicates) + len(duplicate_messages),
        "lost": len(lost_events) + len(d.lost_answers) + len(c.provider.rejected),
    }
    print("\nchaos (durable workflows): " + json.dumps(figures, default=str))

    wrong = {r: (runs.get(r), p.expect_run) for r, p in d.plans.items() if runs.get(r) != p.expect_run}
    assert not wrong, f"runs not ending as planned after {elapsed_total} s: {wrong}"
    saga_wrong = {
        p.workflow_id: (sagas.get(p.workflow_id), p.expect_saga)
        for p in plans
        if sagas.get(p.workflow_id) != p.expect_saga
    }
    assert not saga_wrong, saga_wrong
    # Exactly one compensation run per compensated workflow, succeeded; none for the completed ones.
    assert sorted(comp_runs) == sorted(
        (f"compensate__{p.workflow_id}", "success") for p in plans if p.expect_saga == "compensated"
    ), comp_runs
    assert compensated_ids, "no run plans a compensation (EP_CHAOS_RUNS >= 2): nothing to check it on"
    assert not_undone == [], f"steps of compensated workflows not undone: {not_undone}"
    assert set(undone) == set(compensated_ids) and min(undone.values()) >= 1, undone
    assert min(undo_effects.values()) >= 1, {wf: n for wf, n in undo_effects.items() if n < 1}
    assert outside_undos_not_once == {}, outside_undos_not_once
    assert c.provider.rejected == [], c.provider.rejected
    assert not lost_events, lost_events
    assert set(runs) == set(d.plans), "a CRM webhook accepted without its run"
    # Every outside party of the long workflows acted (their runs could not have ended as planned otherwise).
    not_acted = [(p.run_id, a.name) for p in plans for a in p.acts if (p.run_id, a.name) not in d.acted]
    assert not_acted == [], not_acted
    assert d.lost_answers == [], d.lost_answers
    assert duplicates == {}, duplicates
    assert duplicate_messages == {}, duplicate_messages
    # One envelope per signature run (the priority ones and the long workflows' signing children).
    assert len(envelopes) == sum(p.dag_id == SC for p in plans) and set(envelopes.values()) == {1}, envelopes
    # Every fault happened at its moment, or the test did not test what it says.
    expected = {
        "esign back after a 20 s outage",
        "kill -9 a task inside a slow eSign call",
        "triggerer + scheduler killed with runs parked",
        "Postgres restarted while runs wait on people and signatures",
        "dag-processor killed",
        "API server killed while webhooks arrive",
        "scheduler killed mid-compensation",
        "kill -9 a compensation task",
    }
    assert expected <= set(d.fired), expected - set(d.fired)
    assert len(c.pg_restarts) == 2 and len(d.kills) >= 4, (c.pg_restarts, d.task_kills)
    # Every counted kill killed a live process (checked at each kill: it was the component or the task, and
    # it died of the SIGKILL), and each component was killed as often as its faults say.
    assert dict(c.supervisor.kills) == {"api-server": 1, "triggerer": 1, "scheduler": 2, "dag-processor": 1}
    assert len(c.supervisor.kill_log) == 5 and [k.target for k in d.kills] == d.task_kills
    assert d.in_flight_kill is not None
    assert [e["idempotency_key"] for e in in_flight_envelope] == [envelope_key], in_flight_envelope
    finished_at = datetime.fromisoformat(in_flight_envelope[0]["at"]).timestamp()
    assert killed_at < finished_at <= killed_at + SLOW_ESIGN_S + 10, (killed_at, in_flight_envelope)
