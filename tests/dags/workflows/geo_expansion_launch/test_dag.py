"""geo_expansion_launch through dag.test(): the happy path, a hold then a widening, and every bad ending, each
checked against the business tables, the saga ledger and the sandbox's effect log; each bad ending then
compensated the way production does it (saga_compensation with the conf the workflow asked for), twice, the
second time changing nothing.

The outside world is played by ``World``, a thread that acts as the regulator (the sandbox's portal decides
with ``deliver=false``; the signed webhook goes through the real webhook app), as the partners' contract
children and as the infrastructure provider (the region's callback, through the webhook app again). dag.test()
has no API server, so a child run cannot start: the start is recorded at the REST client (``AirflowApi``), as
these tests record compensation starts, and the child's outcome reaches the inbox the way the toolkit
announces it: the child's ledger row is registered and its ending recorded (``saga.ledger.set_status``, which
announces under ``keys.outcome_key``). The launch lead answers through the Driver, as Airflow's hitlDetails
route does.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.support.dagtest import Approve, Expire, ScriptDriver, deliver
from tests.support.workflow_runs import load_dag, paused

pytestmark = pytest.mark.timeout(420)

DAG_ID = "geo_expansion_launch"
CHILD_DAG = "signature_commitment"
LEAD = "launch_lead"
PARTNERS = [
    {
        "partner_id": "P-PAY",
        "deal_id": "D-PAY",
        "name": "PagaRapido",
        "signer_email": "ana@pagarapido.example",
        "signer_name": "Ana Souza",
        "terms": {"revenue_share_pct": 12, "term_months": 24},
    },
    {
        "partner_id": "P-LOG",
        "deal_id": "D-LOG",
        "name": "EntregaJa",
        "signer_email": "rui@entregaja.example",
        "signer_name": "Rui Lima",
        "terms": {"fee_per_delivery_brl": 7.5, "term_months": 12},
    },
]
READY = {
    "localization_complete": True,
    "pricing_in_local_currency": True,
    "tax_registration": True,
    "support_coverage_hours": 12,
    "payment_methods": ["pix", "card"],
    "privacy_review": "approved",
    "data_residency_required": True,
}
SIGNED = {"P-PAY": "completed", "P-LOG": "completed"}


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def dag() -> Iterator[Any]:
    dag = load_dag(DAG_ID)
    # dag.test() (Airflow 3.3.2) builds a DAG failure callback's context from the serialized DAG, whose
    # required params fail process_params and end dag.test() itself; production runs the callback in the
    # dag-processor. A failed run's compensation is started here as the reconciler starts it.
    dag.on_failure_callback = None
    dag.has_on_failure_callback = False
    # Test speed only: the same retries, seconds apart instead of the production backoff.
    for task in dag.tasks:
        task.retry_delay = timedelta(seconds=0.5)
        task.max_retry_delay = timedelta(seconds=1)
    with paused(DAG_ID):
        yield dag


@pytest.fixture(scope="module")
def compensation_dag() -> Any:
    return load_dag("saga_compensation")


class Airflow:
    """What the workflow and its compensation ask Airflow's REST API for: child starts (run ids are unique, as
    Airflow's are), stopped runs, compensation starts (a second one is a 409) and run notes."""

    calls: list[dict[str, Any]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any], note: str | None = None) -> bool:
        fresh = not self.started(run_id)
        self.calls.append({"kind": "start", "dag_id": dag_id, "run_id": run_id, "conf": conf, "note": note})
        return fresh

    def end_run(self, dag_id: str, run_id: str) -> bool:
        self.calls.append({"kind": "end_run", "dag_id": dag_id, "run_id": run_id})
        return True

    def set_note(self, dag_id: str, run_id: str, note: str) -> None:
        self.calls.append({"kind": "note", "dag_id": dag_id, "run_id": run_id, "note": note})

    @classmethod
    def started(cls, run_id: str) -> list[dict[str, Any]]:
        return [c for c in cls.calls if c["kind"] == "start" and c["run_id"] == run_id]

    @classmethod
    def of(cls, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [c for c in cls.calls if c["kind"] == kind and all(c.get(k) == v for k, v in match.items())]


@pytest.fixture
def airflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Airflow]]:
    Airflow.calls = []

    def start(workflow_id: str, *, reason: str, bad_ending: str, source: str, api: Any = None) -> bool:
        fresh = not Airflow.of("compensation", workflow_id=workflow_id)
        Airflow.calls.append(
            {
                "kind": "compensation",
                "workflow_id": workflow_id,
                "reason": reason,
                "bad_ending": bad_ending,
                "source": source,
            }
        )
        return fresh

    monkeypatch.setattr("execution_plane.saga.airflow_api.AirflowApi", Airflow)
    monkeypatch.setattr("execution_plane.saga.airflow_api.start_compensation", start)
    monkeypatch.setattr("execution_plane.saga.outcomes.AirflowApi", Airflow)
    monkeypatch.setattr("execution_plane.saga.outcomes.start_compensation", start)
    monkeypatch.setattr("execution_plane.saga.callbacks.start_compensation", start)
    yield Airflow
    close_children()


def close_children() -> None:
    """A child that ended badly compensates itself in its own run, which dag.test() never starts: end each as
    that compensation would, so no later reconciler (a live stack on this database) takes it for lost."""
    from execution_plane.saga import keys, ledger
    from execution_plane.saga.steps import Saga

    for start in Airflow.of("start"):
        child = keys.workflow_id(start["dag_id"], start["conf"]["request_id"])
        with Saga.for_workflow(child, actor="test") as saga, saga.conn() as conn, conn.cursor() as cur:
            ledger.set_status(cur, child, "compensating", None, only_from=ledger.BAD_ENDINGS)
            ledger.set_status(cur, child, "compensated", None, only_from=("compensating",))


# ----------------------------------------------------------------------------- the outside world
class World(threading.Thread):
    """The regulator, the partners' contract children and the infrastructure provider, acting once the
    launch has asked them (see the module docstring).

    ``regulator``: clear | conditions | refuse | silent (never decides) | lost (clears, its webhook lost);
    ``children``: partner id -> completed | rejected | expired | failed (announced in this order);
    ``region``: ready | fail | lost (ready, its callback lost)."""

    def __init__(
        self,
        db_url: str,
        sandbox: Any,
        request_id: str,
        *,
        regulator: str = "clear",
        children: dict[str, str] | None = None,
        region: str = "ready",
    ) -> None:
        super().__init__(daemon=True)
        self.db_url, self.sandbox, self.request_id = db_url, sandbox, request_id
        self.workflow_id = f"{DAG_ID}:{request_id}"
        self.regulator, self.region = regulator, region
        self.children = dict(SIGNED if children is None else children)
        self.errors: list[BaseException] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            self._act()
        except BaseException as exc:
            traceback.print_exc()
            self.errors.append(exc)

    def stop(self) -> None:
        self.stopped.set()
        self.join(30)

    def _act(self) -> None:
        if self.regulator == "silent":
            return
        filing = self._poll(
            "SELECT filing_id FROM geo_launches WHERE workflow_id = %s AND filing_id IS NOT NULL"
        )
        if filing is None:
            return
        acknowledged = self.sandbox.post(f"/_sandbox/regulator/filings/{filing}/acknowledge?deliver=false")
        deliver("events/regulator", acknowledged["event"])  # not a decision: the wait goes on
        action, body = {
            "clear": ("clear", None),
            "lost": ("clear", None),
            "conditions": ("clear_with_conditions", {"conditions": ["local data protection officer"]}),
            "refuse": ("refuse", {"reason": "foreign ownership above the 49% cap"}),
        }[self.regulator]
        decided = self.sandbox.post(f"/_sandbox/regulator/filings/{filing}/{action}?deliver=false", body)
        if self.regulator != "lost":
            deliver("events/regulator", decided["event"])
        if self.regulator == "refuse":
            return
        for partner_id, outcome in self.children.items():
            if not self._child_ends(partner_id, outcome):
                return
        if set(self.children.values()) != {"completed"}:
            return
        region = self._poll(
            "SELECT resource_id FROM geo_launch_resources WHERE workflow_id = %s AND kind = 'region'"
        )
        if region is None:
            return
        done = self.sandbox.post(
            f"/_sandbox/infra/regions/{region}/{'fail' if self.region == 'fail' else 'ready'}?deliver=false"
        )
        if self.region != "lost":
            deliver("events/infra", done["event"])

    def _child_ends(self, partner_id: str, outcome: str) -> bool:
        """The child ends as its own run would record it: its ledger row, its ending (announced)."""
        from execution_plane.saga import keys, ledger
        from execution_plane.saga.steps import Saga

        stage = f"partner-{partner_id}"
        run_id = keys.child_run_id(self.workflow_id, stage)
        while not Airflow.started(run_id):
            if self.stopped.wait(0.1):
                return False
        child_request = keys.child_request_id(self.request_id, stage)
        child = keys.workflow_id(CHILD_DAG, child_request)
        with Saga(workflow_id=child, dag_id=CHILD_DAG, run_id=run_id, business_key=child_request) as saga:
            saga.register()
            reason = {
                "completed": None,
                "rejected": "the signer declined to sign",
                "expired": "envelope expired unsigned at the eSign provider",
                "failed": "failed after retries: send_signature_request",
            }[outcome]
            with saga.conn() as conn, conn.cursor() as cur:
                ledger.set_status(cur, child, outcome, reason, only_from=("running",))
        return True

    def _poll(self, query: str) -> str | None:
        import psycopg2

        conn = psycopg2.connect(self.db_url)
        conn.autocommit = True
        try:
            while not self.stopped.is_set():
                with conn.cursor() as cur:
                    cur.execute(query, (self.workflow_id,))
                    row = cur.fetchone()
                if row and row[0]:
                    return str(row[0])
                time.sleep(0.1)
        finally:
            conn.close()
        return None


def launch_conf(request_id: str, **overrides: Any) -> dict[str, Any]:
    conf = {
        "request_id": request_id,
        "market": "BR",
        "market_name": "Brazil",
        "currency": "BRL",
        "region": "sa-east-1",
        "partners": PARTNERS,
        "readiness": READY,
        "rollout_steps_pct": [5, 25],
        "regulatory_timeout_hours": 24,
        "contract_timeout_hours": 24,
        "provisioning_timeout_hours": 24,
        "metrics_window_hours": 0.0003,  # about a second
        "scale_decision_timeout_hours": 24,
    }
    conf.update(overrides)
    return conf


def run(
    dag: Any,
    business_db_url: str,
    sandbox: Any,
    script: list[Any],
    *,
    regulator: str = "clear",
    children: dict[str, str] | None = None,
    infra: str = "ready",
    **overrides: Any,
) -> tuple[Any, str]:
    request_id = f"geo-{uuid.uuid4().hex[:10]}"
    world = World(business_db_url, sandbox, request_id, regulator=regulator, children=children, region=infra)
    driver = ScriptDriver(DAG_ID, script, timeout_s=300, request_id=request_id).start()
    world.start()
    try:
        dr = dag.test(run_conf=launch_conf(request_id, **overrides))
    finally:
        driver.stop()
        world.stop()
    assert not driver.errors, driver.errors
    assert not world.errors, world.errors
    return dr, f"{DAG_ID}:{request_id}"


def widen(round_no: int, comment: str = "figures look good") -> Approve:
    return Approve(f"round_{round_no}.scale_decision", LEAD, "Widen", comment)


# ----------------------------------------------------------------------------- reading the results
def rows(db: Any, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall()


def one(db: Any, query: str, *args: Any) -> Any:
    found = rows(db, query, *args)
    assert len(found) == 1, found
    return found[0][0] if len(found[0]) == 1 else found[0]


def counts(sandbox: Any) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in sandbox.effects())


def task_states(dr: Any) -> dict[str, str | None]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
            if ti.state
            else None
            for ti in dr.get_task_instances(session=session)
        }


def ledger(db: Any, wf: str) -> list[tuple[Any, ...]]:
    return rows(
        db,
        "SELECT step, status, compensation_action, compensated_at FROM saga_steps WHERE workflow_id = %s"
        " ORDER BY seq",
        wf,
    )


def compensate(compensation_dag: Any, wf: str, bad_ending: str) -> Any:
    """Run saga_compensation with the conf production starts it with: the workflow's own ask, or (a step that
    failed after its retries, whose failure callback starts it) the reconciler's."""
    asks = Airflow.of("compensation", workflow_id=wf)
    conf = (
        {k: asks[0][k] for k in ("workflow_id", "reason", "bad_ending", "source")}
        if asks
        else {
            "workflow_id": wf,
            "reason": "failed after retries",
            "bad_ending": "failed",
            "source": "reconciler",
        }
    )
    assert conf["bad_ending"] == bad_ending, conf
    dr = compensation_dag.test(run_conf=conf)
    assert dr.state == "success"
    return dr


def compensated_twice(
    db: Any, sandbox: Any, compensation_dag: Any, wf: str, bad_ending: str
) -> tuple[Counter[tuple[str, str]], dict[str, Any]]:
    """Compensate: every recorded undo done once; compensate again: nothing changes. Returns the undos'
    effects at the outside systems and each undone step's result."""
    before = counts(sandbox)
    compensate(compensation_dag, wf, bad_ending)
    assert one(db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "compensated"
    steps = ledger(db, wf)
    assert [s for s, status, action, _ in steps if action and status != "compensated"] == []
    undone = counts(sandbox) - before

    effects, audit = sandbox.effects(), one(db, "SELECT count(*) FROM audit_log WHERE workflow_id = %s", wf)
    tables = launch_tables(db, wf)
    compensate(compensation_dag, wf, bad_ending)
    assert sandbox.effects() == effects
    assert one(db, "SELECT count(*) FROM audit_log WHERE workflow_id = %s", wf) == audit
    assert ledger(db, wf) == steps
    assert launch_tables(db, wf) == tables
    results = dict(
        rows(
            db,
            "SELECT step, compensation_result FROM saga_steps WHERE workflow_id = %s"
            " AND status = 'compensated'",
            wf,
        )
    )
    return undone, results


def launch_tables(db: Any, wf: str) -> list[Any]:
    return [
        rows(db, "SELECT status, stage, share_pct, reason FROM geo_launches WHERE workflow_id = %s", wf),
        rows(db, "SELECT partner_id, status FROM geo_launch_partners WHERE workflow_id = %s ORDER BY 1", wf),
        rows(db, "SELECT kind, status FROM geo_launch_resources WHERE workflow_id = %s ORDER BY 1", wf),
        rows(
            db,
            "SELECT round, share_pct, verdict, decision FROM geo_rollout_rounds WHERE workflow_id = %s",
            wf,
        ),
    ]


def emails_to(sandbox: Any, to: str) -> list[str]:
    return [e["payload"]["subject"] for e in sandbox.effects(system="email") if e["payload"]["to"] == to]


def exposed(sandbox: Any, db: Any, wf: str) -> list[str]:
    flag = one(db, "SELECT flag_key FROM geo_launches WHERE workflow_id = %s", wf)
    found = sandbox.get(
        f"/flags/v1/flags/{flag}/exposures", params={"market": "BR"}, headers={"Authorization": "Bearer t"}
    )
    return [u["user_id"] for u in found["users"]]


LAUNCH_STEPS = {
    ("regulator", "submit_filing"): 1,
    ("infra", "provision_region"): 1,
    ("infra", "create_tenant"): 1,
    ("infra", "open_payment_account"): 1,
    ("infra", "allocate_number"): 1,
    ("infra", "enable_tenant"): 1,
    ("metrics", "create_cohort"): 1,
    ("flags", "create_flag"): 1,
}
CANARY_UNDOS = {
    ("flags", "set_rollout"): 1,  # the flag off
    ("notify", "notify_user"): 5,  # each user of the 5 % canary, once
    ("infra", "disable_tenant"): 1,
    ("infra", "release_number"): 1,
    ("infra", "close_payment_account"): 1,
    ("infra", "delete_tenant"): 1,
    ("infra", "deprovision_region"): 1,
    ("email", "send"): 2,  # both partners, whose contracts are signed, told the launch stopped
    ("regulator", "withdraw_filing"): 1,
}


def assert_children_started_once_with_valid_tokens(wf: str, request_id: str) -> None:
    from airflow.sdk import BaseHook

    from include.domain.approval_token import verify_token
    from include.domain.common import canonical_json, sha256_hex

    starts = Airflow.of("start")
    assert sorted(c["run_id"] for c in starts) == sorted(
        f"child__{wf}__partner-{p['partner_id']}" for p in PARTNERS
    )
    secret = BaseHook.get_connection("approval_token").password
    for start in starts:
        conf = start["conf"]
        partner = next(p for p in PARTNERS if p["partner_id"] == conf["partner_id"])
        assert conf["request_id"] == f"{request_id}.partner-{partner['partner_id']}"
        assert conf["parent_workflow_id"] == wf
        assert (conf["terms"], conf["signer_email"], conf["deal_id"]) == (
            partner["terms"],
            partner["signer_email"],
            partner["deal_id"],
        )
        claims = verify_token(
            secret,
            conf["approval_token"],
            workflow_key=f"{CHILD_DAG}:{conf['request_id']}",
            terms_sha256=sha256_hex(canonical_json(partner["terms"])),
            now=int(time.time()),
        )
        assert claims.approver == "launch_lead@execution-plane.example"


# ----------------------------------------------------------------------------- the happy path
def test_launch_widens_to_full_and_tells_every_user_once(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, business_db_url: str, airflow: Any
) -> None:
    dr, wf = run(
        dag,
        business_db_url,
        sandbox,
        [widen(1), widen(2, "25% holds up: go")],
        regulator="conditions",
    )
    request_id = wf.split(":", 1)[1]

    assert dr.state == "success", task_states(dr)
    assert one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "completed"
    status, stage, share, decision, conditions = one(
        business_db,
        "SELECT status, stage, share_pct, regulator_decision, regulator_conditions FROM geo_launches"
        " WHERE workflow_id = %s",
        wf,
    )
    assert (status, stage, share) == ("launched", "full_launch", 100)
    assert (decision, conditions) == ("cleared_with_conditions", ["local data protection officer"])
    assert rows(
        business_db,
        "SELECT partner_id, status FROM geo_launch_partners WHERE workflow_id = %s ORDER BY 1",
        wf,
    ) == [("P-LOG", "signed"), ("P-PAY", "signed")]
    assert rows(
        business_db, "SELECT kind, status FROM geo_launch_resources WHERE workflow_id = %s ORDER BY 1", wf
    ) == [
        ("messaging_number", "active"),
        ("payment_account", "active"),
        ("region", "ready"),
        ("tenant", "active"),
    ]
    assert rows(
        business_db,
        "SELECT round, share_pct, verdict, decision, decided_by FROM geo_rollout_rounds"
        " WHERE workflow_id = %s ORDER BY round",
        wf,
    ) == [(1, 5, "pass", "Widen", LEAD), (2, 25, "pass", "Widen", LEAD)]
    assert rows(
        business_db,
        "SELECT stage, status, decided_by FROM approval_requests WHERE workflow_id = %s ORDER BY stage",
        wf,
    ) == [("scale_decision_r1", "approved", LEAD), ("scale_decision_r2", "approved", LEAD)]

    # Each child started once, with a token its own verification accepts for exactly its terms.
    assert_children_started_once_with_valid_tokens(wf, request_id)
    assert Airflow.of("compensation") == [] and Airflow.of("end_run") == []

    # Every side effect once: the filing, the market's resources, the flag at 5 %, 25 %, 100 %, every user
    # of the market told once, the launch lead asked twice.
    assert counts(sandbox) == Counter(
        {
            **LAUNCH_STEPS,
            ("flags", "set_rollout"): 3,
            ("notify", "notify_user"): 100,
            ("email", "send"): 2,
        }
    )
    assert [e["payload"]["rollout_pct"] for e in sandbox.effects(system="flags", action="set_rollout")] == [
        5,
        25,
        100,
    ]
    told = Counter(e["resource_id"] for e in sandbox.effects(system="notify"))
    assert len(told) == 100 and set(told.values()) == {1}
    assert emails_to(sandbox, "launch_lead@execution-plane.example") == [
        "Scale the launch in Brazil after round 1?",
        "Scale the launch in Brazil after round 2?",
    ]
    states = task_states(dr)
    assert states["round_3.metrics_window"] == "skipped" and states["round_2.to_full_launch"] == "success"


def test_a_hold_then_a_widening_and_lost_callbacks(
    dag: Any, sandbox: Any, business_db: Any, business_db_url: str, airflow: Any
) -> None:
    dr, wf = run(
        dag,
        business_db_url,
        sandbox,
        [
            Approve("round_1.scale_decision", LEAD, "Hold", "too early to tell"),
            widen(2),
            widen(3, "50% is fine"),
        ],
        # The regulator clears and the region comes up, both callbacks lost: each wait runs out and the
        # provider is asked once.
        regulator="lost",
        regulatory_timeout_hours=0.002,
        infra="lost",
        provisioning_timeout_hours=0.002,
        rollout_steps_pct=[5, 50],
    )

    assert dr.state == "success", task_states(dr)
    assert (
        one(business_db, "SELECT regulator_decision FROM geo_launches WHERE workflow_id = %s", wf)
        == "cleared"
    )
    assert rows(
        business_db,
        "SELECT round, share_pct, decision FROM geo_rollout_rounds WHERE workflow_id = %s ORDER BY round",
        wf,
    ) == [(1, 5, "Hold"), (2, 5, "Widen"), (3, 50, "Widen")]
    # A hold sets nothing at the flag provider: 5 %, then 50 %, then 100 %.
    assert [e["payload"]["rollout_pct"] for e in sandbox.effects(system="flags", action="set_rollout")] == [
        5,
        50,
        100,
    ]
    assert one(business_db, "SELECT status, share_pct FROM geo_launches WHERE workflow_id = %s", wf) == (
        "launched",
        100,
    )
    assert len(sandbox.effects(system="regulator", action="submit_filing")) == 1
    assert (
        one(
            business_db,
            "SELECT status FROM geo_launch_resources WHERE workflow_id = %s AND kind = 'region'",
            wf,
        )
        == "ready"
    )


# ----------------------------------------------------------------------------- bad endings
def test_market_not_ready_files_nothing(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, business_db_url: str, airflow: Any
) -> None:
    dr, wf = run(
        dag,
        business_db_url,
        sandbox,
        [],
        regulator="silent",
        region="us-east-1",  # data must stay in Brazil: this region does not keep it there
        readiness={**READY, "privacy_review": "pending"},
    )

    assert dr.state == "failed"
    reason = (
        "market BR is not ready: privacy: privacy review pending; "
        "data_residency: data must stay in BR but region us-east-1 is in US"
    )
    assert one(business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf) == (
        "rejected",
        reason,
    )
    assert one(business_db, "SELECT status FROM geo_launches WHERE workflow_id = %s", wf) == "not_ready"
    assert counts(sandbox) == Counter()
    assert any(c["note"] == f"REJECTED: {reason}" for c in Airflow.of("note"))

    undone, results = compensated_twice(business_db, sandbox, compensation_dag, wf, "rejected")
    assert undone == Counter()
    assert results == {"launch_record": {"launch_status": "not_ready"}}


@pytest.mark.parametrize("ending", ["refuse", "silent"])
def test_regulator_refuses_or_never_decides(
    ending: str,
    dag: Any,
    compensation_dag: Any,
    sandbox: Any,
    business_db: Any,
    business_db_url: str,
    airflow: Any,
) -> None:
    dr, wf = run(dag, business_db_url, sandbox, [], regulator=ending, regulatory_timeout_hours=0.002)

    assert dr.state == "failed"
    bad_ending, launch_status = ("rejected", "refused") if ending == "refuse" else ("expired", "expired")
    saga_status, reason = one(
        business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf
    )
    assert saga_status == bad_ending
    assert reason.startswith(
        "regulator refused the market entry (MARKET_ENTRY-BR-"
        if ending == "refuse"
        else "no regulatory decision"
    )
    if ending == "refuse":
        assert reason.endswith("foreign ownership above the 49% cap")
    assert one(business_db, "SELECT status FROM geo_launches WHERE workflow_id = %s", wf) == launch_status
    assert Airflow.of("start") == []
    assert counts(sandbox) == Counter({("regulator", "submit_filing"): 1})

    undone, _ = compensated_twice(business_db, sandbox, compensation_dag, wf, bad_ending)
    # A refused filing is a closed case (nothing to withdraw); an undecided one is withdrawn.
    assert undone == (Counter() if ending == "refuse" else Counter({("regulator", "withdraw_filing"): 1}))
    filing = one(business_db, "SELECT filing_id FROM geo_launches WHERE workflow_id = %s", wf)
    portal = sandbox.get(f"/regulator/v1/filings/{filing}", headers={"Authorization": "Bearer t"})
    assert portal["status"] == ("refused" if ending == "refuse" else "withdrawn")


@pytest.mark.parametrize(
    ("child_ending", "bad_ending", "status", "why"),
    [
        ("rejected", "rejected", "declined", "the signer declined to sign"),
        ("expired", "expired", "expired", "envelope expired unsigned at the eSign provider"),
    ],
)
def test_a_partner_declines_and_the_launch_is_compensated_through_the_children(
    child_ending: str,
    bad_ending: str,
    status: str,
    why: str,
    dag: Any,
    compensation_dag: Any,
    sandbox: Any,
    business_db: Any,
    business_db_url: str,
    airflow: Any,
) -> None:
    # One partner's contract is declined (or expires); the other signs, before or after the launch recorded
    # that (dag.test() runs the two waits one after the other, in either order): either way it is told.
    dr, wf = run(dag, business_db_url, sandbox, [], children={"P-PAY": child_ending, "P-LOG": "completed"})
    request_id = wf.split(":", 1)[1]

    assert dr.state == "failed"
    states = task_states(dr)
    assert states["partner_contracts.contract_outcome[0]"] == "failed"  # declined: the launch ends
    # Signed in time: recorded; signed once the launch had ended: refused (the launch is over).
    log_outcome = states["partner_contracts.contract_outcome[1]"]
    assert log_outcome in ("success", "failed")
    assert states["provision_region"] == "upstream_failed"
    saga_status, reason = one(
        business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf
    )
    assert (saga_status, reason) == (bad_ending, f"contract with PagaRapido (P-PAY) {status}: {why}")
    assert rows(
        business_db,
        "SELECT partner_id, status FROM geo_launch_partners WHERE workflow_id = %s ORDER BY 1",
        wf,
    ) == [("P-LOG", "signed" if log_outcome == "success" else "started"), ("P-PAY", status)]
    assert one(business_db, "SELECT status FROM geo_launches WHERE workflow_id = %s", wf) == status
    assert_children_started_once_with_valid_tokens(wf, request_id)
    assert counts(sandbox) == Counter({("regulator", "submit_filing"): 1})  # nothing provisioned

    undone, results = compensated_twice(business_db, sandbox, compensation_dag, wf, bad_ending)
    assert undone == Counter({("email", "send"): 1, ("regulator", "withdraw_filing"): 1})
    # The partner who signed (even after the launch ended) is told the launch stopped; the declined one's
    # child compensates itself (voids its envelope, tells its signer); the signed child is kept: it binds.
    assert emails_to(sandbox, "rui@entregaja.example") == ["Launch in Brazil stopped"]
    assert emails_to(sandbox, "ana@pagarapido.example") == []
    pay, log = (f"{CHILD_DAG}:{request_id}.partner-{p}" for p in ("P-PAY", "P-LOG"))
    assert results["child.partner-P-LOG"] == {"child": log, "kept": "the child completed"}
    assert results["child.partner-P-PAY"]["compensation_started"] is True
    assert results["contract_terms.P-LOG"]["told"] is True
    assert results["contract_terms.P-PAY"] == {"partner_id": "P-PAY", "told": False, "contract": child_ending}
    assert [c["workflow_id"] for c in Airflow.of("compensation")] == [wf, pay]
    assert Airflow.of("end_run") == []  # neither child was still running


def test_a_provisioning_failure_mid_step_deprovisions_what_was_provisioned(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, business_db_url: str, airflow: Any
) -> None:
    # The region and the tenant come up; the payment provider then refuses every call.
    sandbox.post(
        "/_sandbox/faults",
        {"system": "infra", "action": "open_payment_account", "mode": "error", "status": 503, "count": 1000},
    )
    dr, wf = run(dag, business_db_url, sandbox, [])

    assert dr.state == "failed"
    states = task_states(dr)
    assert states["provision_market"] == "failed" and states["enable_canary"] == "upstream_failed"
    assert one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "running"
    assert rows(
        business_db, "SELECT kind, status FROM geo_launch_resources WHERE workflow_id = %s ORDER BY 1", wf
    ) == [("region", "ready"), ("tenant", "active")]

    import httpx

    httpx.delete(f"{sandbox.url}/_sandbox/faults", timeout=10).raise_for_status()
    undone, _ = compensated_twice(business_db, sandbox, compensation_dag, wf, "failed")
    assert undone == Counter(
        {
            ("infra", "delete_tenant"): 1,
            ("infra", "deprovision_region"): 1,
            ("email", "send"): 2,
            ("regulator", "withdraw_filing"): 1,
        }
    )
    assert rows(
        business_db, "SELECT kind, status FROM geo_launch_resources WHERE workflow_id = %s ORDER BY 1", wf
    ) == [("region", "removed"), ("tenant", "removed")]
    assert one(business_db, "SELECT status, stage FROM geo_launches WHERE workflow_id = %s", wf) == (
        "failed",
        "compensated",
    )
    assert counts(sandbox)[("flags", "create_flag")] == 0  # the market was never enabled


def test_a_region_that_fails_to_come_up_fails_the_launch(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, business_db_url: str, airflow: Any
) -> None:
    dr, wf = run(dag, business_db_url, sandbox, [], infra="fail")

    assert dr.state == "failed"
    saga_status, reason = one(
        business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf
    )
    assert (saga_status, reason) == (
        "failed",
        "region sa-east-1 for BR failed to provision: capacity unavailable in the region",
    )
    assert rows(business_db, "SELECT kind, status FROM geo_launch_resources WHERE workflow_id = %s", wf) == [
        ("region", "failed")
    ]
    undone, _ = compensated_twice(business_db, sandbox, compensation_dag, wf, "failed")
    assert undone == Counter(
        {("infra", "deprovision_region"): 1, ("email", "send"): 2, ("regulator", "withdraw_filing"): 1}
    )
    assert one(business_db, "SELECT status FROM geo_launches WHERE workflow_id = %s", wf) == "failed"


def test_a_canary_breach_rolls_back_by_itself(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, business_db_url: str, airflow: Any
) -> None:
    sandbox.post("/_sandbox/metrics/figures", {"market": "BR", "scenario": "breach"})
    dr, wf = run(dag, business_db_url, sandbox, [])

    assert dr.state == "failed"
    saga_status, reason = one(
        business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf
    )
    assert saga_status == "failed"
    assert reason.startswith("canary breached its guardrails in round 1 at 5% of users: error rate 6.50%")
    assert reason.endswith("rolled back automatically")
    assert rows(
        business_db, "SELECT round, verdict, decision FROM geo_rollout_rounds WHERE workflow_id = %s", wf
    ) == [(1, "breach", None)]
    assert one(business_db, "SELECT status FROM geo_launches WHERE workflow_id = %s", wf) == "rolled_back"
    assert rows(business_db, "SELECT count(*) FROM approval_requests WHERE workflow_id = %s", wf) == [(0,)]
    assert_rolled_back(business_db, sandbox, compensation_dag, wf, "failed")


@pytest.mark.parametrize("answer", ["roll back", "no answer"])
def test_the_lead_rolls_back_or_does_not_answer(
    answer: str,
    dag: Any,
    compensation_dag: Any,
    sandbox: Any,
    business_db: Any,
    business_db_url: str,
    airflow: Any,
) -> None:
    step = (
        Approve("round_1.scale_decision", LEAD, "Roll back", "checkout complaints in support")
        if answer == "roll back"
        else Expire("round_1.scale_decision")
    )
    dr, wf = run(
        dag,
        business_db_url,
        sandbox,
        [step],
        scale_decision_timeout_hours=24 if answer == "roll back" else 0.0005,
    )

    assert dr.state == "failed"
    bad_ending = "rejected" if answer == "roll back" else "expired"
    expected_reason = (
        "rejected at scale_decision_r1 by launch_lead: checkout complaints in support"
        if answer == "roll back"
        else "expired at scale_decision_r1 by nobody (timed out)"
    )
    assert one(business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf) == (
        bad_ending,
        expected_reason,
    )
    assert one(business_db, "SELECT status, reason FROM geo_launches WHERE workflow_id = %s", wf) == (
        "rolled_back",
        "rolled back at the scale decision of round 1 by "
        + ("launch_lead: checkout complaints in support" if answer == "roll back" else "nobody (timed out)"),
    )
    assert rows(
        business_db, "SELECT round, verdict, decision FROM geo_rollout_rounds WHERE workflow_id = %s", wf
    ) == [(1, "pass", "Roll back")]
    assert one(business_db, "SELECT status FROM approval_requests WHERE workflow_id = %s", wf) == (
        "rejected" if answer == "roll back" else "expired"
    )
    assert_rolled_back(business_db, sandbox, compensation_dag, wf, bad_ending)


def assert_rolled_back(db: Any, sandbox: Any, compensation_dag: Any, wf: str, bad_ending: str) -> None:
    """The canary (5 %) was on: compensation turns the flag off, tells each user who saw it once, disables
    the market, deprovisions it, tells the signed partners and withdraws the filing."""
    assert counts(sandbox)[("flags", "set_rollout")] == 1
    saw = exposed(sandbox, db, wf)
    assert len(saw) == 5

    undone, results = compensated_twice(db, sandbox, compensation_dag, wf, bad_ending)
    assert undone == Counter(CANARY_UNDOS)
    assert sorted(e["resource_id"] for e in sandbox.effects(system="notify")) == sorted(saw)
    assert sandbox.effects(system="flags", action="set_rollout")[-1]["payload"] == {
        "market": "BR",
        "enabled": False,
        "rollout_pct": 0,
    }
    assert results["users_exposure"]["notified"] == 5
    # Newest first: the flag off before anyone is told, the market disabled before it is deprovisioned.
    order = [
        e["action"]
        for e in sandbox.effects()
        if e["action"]
        in ("set_rollout", "notify_user", "disable_tenant", "delete_tenant", "deprovision_region")
    ]
    assert order == [
        "set_rollout",
        "set_rollout",
        *["notify_user"] * 5,
        "disable_tenant",
        "delete_tenant",
        "deprovision_region",
    ]
    assert one(db, "SELECT status, share_pct, stage FROM geo_launches WHERE workflow_id = %s", wf) == (
        "rolled_back",
        0,
        "compensated",
    )
    for partner in PARTNERS:
        assert emails_to(sandbox, partner["signer_email"]) == ["Launch in Brazil stopped"]
