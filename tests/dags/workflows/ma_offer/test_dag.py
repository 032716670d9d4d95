"""ma_offer through dag.test(): the happy path and every bad ending, checked against the business tables, the
saga ledger and the sandbox's effect log; each bad ending then compensated as production does it
(saga_compensation with the conf the workflow asked the REST API for), twice: the second run changes nothing.

The outside parties act for real where the sandbox stands in for them: counsel, the financial advisors and the
regulator answer through the sandbox's control routes (``deliver=false``: there is no API server to take
their webhook) and the test delivers the event they produced through the real webhook app, or lets the
filing poller find it (the lost-webhook case). The target's answers go through the same webhook app.

The signing child cannot start under dag.test() (no API server): its start is recorded at the REST API client
(``AirflowApi.trigger``), as the existing tests record compensation starts, and its outcome is announced in
the inbox exactly as the toolkit does when a workflow ends (``saga.ledger.set_status`` ->
``announce_outcome``). tests/e2e/test_ma_offer_live.py starts the real child.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from tests.support.dagtest import Approve, Do, Event, Expire, ScriptDriver, deliver
from tests.support.workflow_runs import load_dag, paused, record_rest_calls

pytestmark = pytest.mark.timeout(240)

DAG_ID = "ma_offer"
CONTACT = "dana.cfo@nimbus.example"
BOARD_OK = Approve("board_approval", "board", comment="within our range")
WITHDRAWN_SUBJECT = "Withdrawal of our offer for Nimbus Analytics"
AUTH = {"Authorization": "Bearer test"}


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def dag() -> Iterator[Any]:
    dag = load_dag(DAG_ID)
    # dag.test() (Airflow 3.3.2) builds a DAG failure callback's context from the serialized DAG, whose
    # required params fail process_params and end dag.test() itself; production runs the callback in the
    # dag-processor. Here a failed run's compensation is started as the reconciler starts it for a lost
    # callback.
    dag.on_failure_callback = None
    dag.has_on_failure_callback = False
    with paused(DAG_ID):
        yield dag


@pytest.fixture(scope="module")
def compensation_dag() -> Any:
    return load_dag("saga_compensation")


@pytest.fixture
def requested(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    return record_rest_calls(monkeypatch)


@dataclass
class ChildApi:
    """The REST API as the toolkit's children module and the child's undo reach it (``AirflowApi``): runs
    started (a second start of the same run id is Airflow's 409), runs stopped, compensations asked."""

    started: list[dict[str, Any]] = field(default_factory=list)
    stopped: list[tuple[str, str]] = field(default_factory=list)
    compensations: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> ChildApi:
    recorded = ChildApi()

    class Api:
        def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any], note: str | None = None) -> bool:
            if any(s["run_id"] == run_id for s in recorded.started):
                return False
            recorded.started.append({"dag_id": dag_id, "run_id": run_id, "conf": conf, "note": note})
            return True

        def end_run(self, dag_id: str, run_id: str) -> bool:
            recorded.stopped.append((dag_id, run_id))
            return True

    def start(workflow_id: str, **kwargs: Any) -> bool:
        recorded.compensations.append({"workflow_id": workflow_id, **kwargs})
        return len([c for c in recorded.compensations if c["workflow_id"] == workflow_id]) == 1

    monkeypatch.setattr("execution_plane.saga.airflow_api.AirflowApi", Api)
    monkeypatch.setattr("execution_plane.saga.airflow_api.start_compensation", start)
    return recorded


@contextmanager
def quick_retries(dag: Any) -> Iterator[None]:
    """Test speed only: the same retries, a second apart instead of the production backoff."""
    saved = {t.task_id: (t.retry_delay, t.max_retry_delay) for t in dag.tasks}
    for task in dag.tasks:
        task.retry_delay, task.max_retry_delay = timedelta(seconds=0.5), timedelta(seconds=1)
    try:
        yield
    finally:
        for task in dag.tasks:
            task.retry_delay, task.max_retry_delay = saved[task.task_id]


# ----------------------------------------------------------------------------- the outside world
@dataclass
class Offer:
    """One offer under test: its ids, and the outside parties' actions for its script."""

    business_db_url: str
    sandbox: Any
    request_id: str = field(default_factory=lambda: f"ma-{uuid.uuid4().hex[:10]}")

    @property
    def workflow_id(self) -> str:
        return f"{DAG_ID}:{self.request_id}"

    @property
    def deal_id(self) -> str:
        return f"deal-{self.request_id}"

    @property
    def child_workflow_id(self) -> str:
        return f"signature_commitment:{self.request_id}.signing"

    def conf(self, **overrides: Any) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "deal_id": self.deal_id,
            "target_id": f"T-{self.request_id}",
            "target_company": "Nimbus Analytics",
            "target_contact_email": CONTACT,
            "target_contact_name": "Dana Cfo",
            "base_valuation_usd": 50_000_000,
            **overrides,
        }

    def _scalar(self, query: str, *args: Any) -> Any:
        import psycopg2

        deadline = time.monotonic() + 30
        conn = psycopg2.connect(self.business_db_url)
        conn.autocommit = True
        try:
            while time.monotonic() < deadline:
                with conn.cursor() as cur:
                    cur.execute(query, args)
                    row = cur.fetchone()
                if row and row[0]:
                    return row[0]
                time.sleep(0.1)
        finally:
            conn.close()
        raise TimeoutError(f"nothing for {query} {args}")

    # -- counsel and the financial advisors
    def review(self, reviewer: str, round_no: int, action: str = "opinion", **answer: Any) -> Do:
        """The firm answers the round's review (sandbox control route), its webhook delivered."""

        def act() -> None:
            review_id = self._scalar(
                "SELECT review_id FROM ma_offer_reviews WHERE workflow_id = %s AND round = %s"
                " AND reviewer = %s",
                self.workflow_id,
                round_no,
                reviewer,
            )
            acted = self.sandbox.post(
                f"/_sandbox/{reviewer}/reviews/{review_id}/{action}?deliver=false",
                {"summary": answer.pop("summary", "fine"), **answer},
            )
            deliver(f"events/{reviewer}", acted["event"])

        return Do(
            f"review_{round_no}.{reviewer}_review", act, states=("scheduled", "queued", "running", "deferred")
        )

    def reviews_ok(self, round_no: int = 1) -> list[Do]:
        return [self.review("counsel", round_no), self.review("advisor", round_no)]

    # -- the regulator
    def regulator(self, action: str, *, task_id: str, via: str = "webhook", **body: Any) -> Do:
        def act() -> None:
            filing_id = self._scalar(
                "SELECT filing_id FROM ma_regulatory_filings WHERE workflow_id = %s", self.workflow_id
            )
            acted = self.sandbox.post(
                f"/_sandbox/regulator/filings/{filing_id}/{action}?deliver=false", body or None
            )
            if via == "webhook":
                deliver("events/regulator", acted["event"])
            else:
                from workflows.ma_offer.poller import poll_filing_statuses

                self.polled.append(poll_filing_statuses(workflow_ids=[self.workflow_id]))

        return Do(task_id, act, states=("scheduled", "queued", "running", "deferred"))

    polled: list[dict[str, Any]] = field(default_factory=list)

    def acknowledged(self) -> Do:
        return self.regulator("acknowledge", task_id="regulator_acknowledgement")

    def decided(self, action: str = "clear", **body: Any) -> Do:
        return self.regulator(action, task_id="regulator_decision", **body)

    # -- the target
    def target(self, round_no: int, event_type: str, **payload: Any) -> Event:
        return Event(
            task_id=f"negotiation_{round_no}.target_response",
            route="events/target",
            body={
                "event_id": f"{self.request_id}-r{round_no}-{event_type}",
                "type": event_type,
                "correlation_key": f"{self.workflow_id}:response:{round_no}",
                "payload": payload,
                "occurred_at": "2026-12-01T10:00:00Z",
            },
        )

    # -- the signing child
    def child_ends(self, status: str, reason: str | None = None) -> Do:
        """The child workflow ends ``status``: recorded and announced as the toolkit does it."""

        def act() -> None:
            from execution_plane.saga import keys, ledger
            from execution_plane.saga.steps import Saga

            child = self.child_workflow_id
            dag_id, request_id = keys.split_workflow_id(child)
            with Saga(
                workflow_id=child,
                dag_id=dag_id,
                run_id=f"child__{self.workflow_id}__signing",
                business_key=request_id,
            ) as saga:
                saga.register()
                with saga.conn() as conn, conn.cursor() as cur:
                    assert ledger.set_status(cur, child, status, reason, only_from=("running",))

        return Do("signing_outcome", act, states=("scheduled", "queued", "running", "deferred"))

    def happy_after_board(self) -> list[Any]:
        return [
            self.acknowledged(),
            self.decided("clear"),
            self.target(1, "offer.accepted", note="we accept"),
            self.child_ends("completed"),
        ]


def run(dag: Any, offer: Offer, script: list[Any], **conf: Any) -> Any:
    driver = ScriptDriver(DAG_ID, script, timeout_s=180, request_id=offer.request_id).start()
    try:
        dr = dag.test(run_conf=offer.conf(**conf))
    finally:
        driver.stop()
    assert not driver.errors, driver.errors
    return dr


@pytest.fixture
def offer(business_db_url: str, sandbox: Any) -> Offer:
    return Offer(business_db_url, sandbox)


def seed_dd_room(db: Any, deal_id: str, *, status: str, base: float, adjusted: float, pct: float) -> str:
    wf = f"dd_room:{deal_id}-{uuid.uuid4().hex[:6]}"
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO dd_rooms (workflow_id, deal_id, target_company, base_valuation_usd, status)"
            " VALUES (%s, %s, 'Nimbus Analytics', %s, %s)",
            (wf, deal_id, base, status),
        )
        cur.execute(
            "INSERT INTO valuation_impacts (workflow_id, base_valuation_usd, adjusted_valuation_usd,"
            " total_adjustment_pct, per_workstream_pct, explanation) VALUES (%s, %s, %s, %s, '{}', 'seeded')",
            (wf, base, adjusted, pct),
        )
    return wf


# ----------------------------------------------------------------------------- reading
def rows(db: Any, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall()


def one(db: Any, query: str, *args: Any) -> Any:
    (row,) = rows(db, query, *args)
    return row[0] if len(row) == 1 else row


def counts(effects: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in effects)


def last_seq(sandbox: Any) -> int:
    return max((int(e["seq"]) for e in sandbox.effects()), default=0)


def effects_after(sandbox: Any, seq: int) -> list[dict[str, Any]]:
    return [e for e in sandbox.effects() if int(e["seq"]) > seq]


def emails_to(sandbox: Any, to: str) -> list[str]:
    return [e["payload"]["subject"] for e in sandbox.effects(system="email") if e["payload"]["to"] == to]


def assert_each_effect_once(sandbox: Any) -> None:
    keyed = Counter(
        (e["system"], e["action"], e["idempotency_key"])
        for e in sandbox.effects()
        if e.get("idempotency_key")
    )
    assert not [k for k, n in keyed.items() if n > 1], keyed


def task_states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def offer_state(db: Any, offer: Offer) -> tuple[str, str]:
    return one(db, "SELECT status, stage FROM ma_offers WHERE workflow_id = %s", offer.workflow_id)


# ----------------------------------------------------------------------------- bad endings and compensation
def assert_bad_ending(
    db: Any, requested: list[dict[str, Any]], offer: Offer, dr: Any, *, status: str, reason: str, stage: str
) -> None:
    assert dr.state == "failed", task_states(dr)
    wf = offer.workflow_id
    assert rows(db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf) == [
        (status, reason)
    ]
    assert offer_state(db, offer) == (status, stage)
    asks = [c for c in requested if c.get("workflow_id") == wf]
    assert asks and asks[0]["bad_ending"] == status and asks[0]["reason"] == reason, asks
    assert [c["note"] for c in requested if "note" in c] == [f"{status.upper()}: {reason}"]


def compensate(
    compensation_dag: Any, requested: list[dict[str, Any]], sandbox: Any, db: Any, wf: str
) -> list[dict[str, Any]]:
    """saga_compensation with the first start the workflow asked for, then again: returns the first run's
    effects; the second run must add none, and no audit row."""
    asks = [c for c in requested if c.get("workflow_id") == wf]
    assert asks, f"nobody asked to compensate {wf}: {requested}"
    conf = {k: asks[0][k] for k in ("workflow_id", "reason", "bad_ending", "source")}
    before = last_seq(sandbox)
    assert compensation_dag.test(run_conf=conf).state == "success"
    undone = effects_after(sandbox, before)
    again, audit = last_seq(sandbox), one(db, "SELECT count(*) FROM audit_log WHERE workflow_id = %s", wf)
    assert compensation_dag.test(run_conf=conf).state == "success"
    assert effects_after(sandbox, again) == [], "a second compensation run acted again"
    assert one(db, "SELECT count(*) FROM audit_log WHERE workflow_id = %s", wf) == audit
    assert one(db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "compensated"
    assert (
        rows(
            db,
            "SELECT step FROM saga_steps WHERE workflow_id = %s AND compensation_action IS NOT NULL"
            " AND status <> 'compensated'",
            wf,
        )
        == []
    )
    assert_each_effect_once(sandbox)
    return undone


def undo_actions(db: Any, wf: str) -> list[str]:
    """The undos the ledger holds, newest first (the order compensation ran them)."""
    return [
        r[0]
        for r in rows(
            db,
            "SELECT compensation_action FROM saga_steps WHERE workflow_id = %s"
            " AND compensation_action IS NOT NULL ORDER BY seq DESC",
            wf,
        )
    ]


# ----------------------------------------------------------------------------- happy path
def test_happy_path_from_the_dd_valuation_to_a_signed_deal(
    dag: Any,
    offer: Offer,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
    children: ChildApi,
) -> None:
    from airflow.sdk import BaseHook

    from include.domain.approval_token import verify_token
    from include.domain.common import canonical_json, sha256_hex

    dd = seed_dd_room(
        business_db, offer.deal_id, status="closing", base=60_000_000, adjusted=52_800_000, pct=-12
    )
    dr = run(dag, offer, [*offer.reviews_ok(), BOARD_OK, *offer.happy_after_board()])

    wf = offer.workflow_id
    assert dr.state == "success", task_states(dr)
    assert one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "completed"
    assert offer_state(business_db, offer) == ("signed", "closed")
    basis, board_price, agreed, child = one(
        business_db,
        "SELECT basis, board_price_usd, agreed_price_usd, child_workflow_id FROM ma_offers"
        " WHERE workflow_id = %s",
        wf,
    )
    assert basis["source"] == "dd_room" and basis["dd_workflow_id"] == dd
    # 12 % cut by the DD: price = the adjusted valuation, 20 % escrow, half of the USD 7.2 M gap as earn-out.
    assert board_price == agreed == 52_800_000
    (terms,) = [
        r[0] for r in rows(business_db, "SELECT terms FROM ma_offer_versions WHERE workflow_id = %s", wf)
    ]
    assert (terms["escrow_pct"], terms["escrow_usd"], terms["earn_out_usd"]) == (20.0, 10_560_000, 3_600_000)
    assert rows(
        business_db, "SELECT version, source, status FROM ma_offer_versions WHERE workflow_id = %s", wf
    ) == [(1, "prepared", "agreed")]
    assert rows(
        business_db,
        "SELECT round, reviewer, status FROM ma_offer_reviews WHERE workflow_id = %s ORDER BY reviewer",
        wf,
    ) == [(1, "advisor", "opinion_issued"), (1, "counsel", "opinion_issued")]
    assert (
        one(business_db, "SELECT status FROM ma_regulatory_filings WHERE workflow_id = %s", wf) == "cleared"
    )
    assert rows(
        business_db, "SELECT round, response, next_step FROM ma_target_responses WHERE workflow_id = %s", wf
    ) == [(1, "accept", "signing")]
    assert rows(
        business_db, "SELECT stage, status, decided_by FROM approval_requests WHERE workflow_id = %s", wf
    ) == [("board_approval", "approved", "board")]

    # The child: started once, with the agreed terms and a token the child will accept.
    assert child == offer.child_workflow_id
    (start,) = children.started
    assert (start["dag_id"], start["run_id"]) == ("signature_commitment", f"child__{wf}__signing")
    conf = start["conf"]
    assert conf["request_id"] == f"{offer.request_id}.signing" and conf["parent_workflow_id"] == wf
    assert conf["terms"]["price_usd"] == 52_800_000 and conf["terms"]["regulatory_conditions"] == []
    assert (conf["signer_email"], conf["partner_id"]) == (CONTACT, f"T-{offer.request_id}")
    claims = verify_token(
        BaseHook.get_connection("approval_token").password or "",
        conf["approval_token"],
        workflow_key=offer.child_workflow_id,
        terms_sha256=sha256_hex(canonical_json(conf["terms"])),
        now=int(time.time()),
    )
    assert claims.approver == "board@execution-plane.example"

    # Every outside effect once.
    assert counts(sandbox.effects()) == {
        ("docstore", "create_room"): 1,
        ("docstore", "put_object"): 1,
        ("crm", "update_deal"): 3,
        ("counsel", "request_review"): 1,
        ("advisor", "request_review"): 1,
        ("regulator", "submit_filing"): 1,
        ("email", "send"): 4,
    }
    assert [e["payload"]["status"] for e in sandbox.effects(system="crm")] == [
        "offer_preparation",
        "offer_sent",
        "signed",
    ]
    assert emails_to(sandbox, CONTACT) == [
        "Offer to acquire Nimbus Analytics",
        "Our offer for Nimbus Analytics: regulatory clearance obtained",
        "Acquisition of Nimbus Analytics: signed",
    ]
    (filing,) = sandbox.effects(system="regulator", action="submit_filing")
    assert (filing["payload"]["kind"], filing["payload"]["subject"]) == ("merger_control", offer.deal_id)
    assert_each_effect_once(sandbox)
    assert requested == []


# ----------------------------------------------------------------------------- refused input
def test_an_archived_dd_is_no_basis_for_an_offer(
    dag: Any, offer: Offer, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    seed_dd_room(business_db, offer.deal_id, status="archived", base=60_000_000, adjusted=40_000_000, pct=-33)
    dr = run(dag, offer, [])

    assert dr.state == "failed"
    states = task_states(dr)
    assert states["offer_basis"] == "failed" and states["open_offer"] == "upstream_failed"
    assert rows(business_db, "SELECT 1 FROM saga_workflows WHERE workflow_id = %s", offer.workflow_id) == []
    assert rows(business_db, "SELECT 1 FROM ma_offers WHERE workflow_id = %s", offer.workflow_id) == []
    assert sandbox.effects() == [] and requested == []


# ----------------------------------------------------------------------------- board
def assert_withdrawn_before_sending(
    db: Any, sandbox: Any, compensation_dag: Any, requested: list[dict[str, Any]], offer: Offer
) -> None:
    """Nothing reached the target or the regulator: the room is archived, the CRM deal reset, the record
    withdrawn; the reviews were answered (closed), so cancelling them reaches nobody."""
    wf = offer.workflow_id
    assert undo_actions(db, wf) == [
        "ma_offer.cancel_review",
        "ma_offer.cancel_review",
        "ma_offer.reset_deal_status",
        "ma_offer.archive_room",
        "ma_offer.close_record",
    ]
    undone = compensate(compensation_dag, requested, sandbox, db, wf)
    assert counts(undone) == {("docstore", "archive_room"): 1, ("crm", "update_deal"): 1}, undone
    crm = next(e for e in undone if e["system"] == "crm")
    assert (crm["resource_id"], crm["payload"]["status"]) == (offer.deal_id, "offer_withdrawn")
    assert emails_to(sandbox, CONTACT) == []
    assert rows(db, "SELECT DISTINCT status FROM ma_offer_versions WHERE workflow_id = %s", wf) == [
        ("withdrawn",)
    ]
    assert rows(db, "SELECT DISTINCT status FROM ma_offer_reviews WHERE workflow_id = %s", wf) == [
        ("opinion_issued",)
    ]


def test_board_rejects(
    dag: Any,
    compensation_dag: Any,
    offer: Offer,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
) -> None:
    dr = run(dag, offer, [*offer.reviews_ok(), Approve("board_approval", "board", "Reject", "too rich")])
    assert_bad_ending(
        business_db,
        requested,
        offer,
        dr,
        status="rejected",
        reason="rejected at board_approval by board: too rich",
        stage="board_approval",
    )
    assert task_states(dr)["send_offer"] == "skipped"
    assert_withdrawn_before_sending(business_db, sandbox, compensation_dag, requested, offer)
    assert offer_state(business_db, offer) == ("rejected", "board_approval")


def test_board_approval_expires(
    dag: Any,
    compensation_dag: Any,
    offer: Offer,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
) -> None:
    dr = run(dag, offer, [*offer.reviews_ok(), Expire("board_approval")], approval_timeout_hours=0.0005)
    assert_bad_ending(
        business_db,
        requested,
        offer,
        dr,
        status="expired",
        reason="expired at board_approval by nobody (timed out)",
        stage="board_approval",
    )
    assert_withdrawn_before_sending(business_db, sandbox, compensation_dag, requested, offer)


# ----------------------------------------------------------------------------- reviews
def test_reviewers_that_never_answer_expire_the_offer_and_their_reviews_are_cancelled(
    dag: Any,
    compensation_dag: Any,
    offer: Offer,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
) -> None:
    dr = run(dag, offer, [], review_timeout_hours=0.0005)
    assert_bad_ending(
        business_db,
        requested,
        offer,
        dr,
        status="expired",
        reason="no answer from counsel and advisor on review round 1 in time",
        stage="review_r1",
    )
    undone = compensate(compensation_dag, requested, sandbox, business_db, offer.workflow_id)
    assert counts(undone) == {
        ("counsel", "cancel_review"): 1,
        ("advisor", "cancel_review"): 1,
        ("docstore", "archive_room"): 1,
        ("crm", "update_deal"): 1,
    }
    assert rows(
        business_db,
        "SELECT reviewer, status FROM ma_offer_reviews WHERE workflow_id = %s ORDER BY reviewer",
        offer.workflow_id,
    ) == [("advisor", "cancelled"), ("counsel", "cancelled")]


def test_changes_requested_then_approved_and_the_target_rejects(
    dag: Any,
    compensation_dag: Any,
    offer: Offer,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
) -> None:
    mac = "Material adverse change clause covering the top 10 customers"
    dr = run(
        dag,
        offer,
        [
            offer.review(
                "counsel",
                1,
                "request_changes",
                summary="needs a MAC clause",
                changes=[mac],
                details={"escrow_pct": 25},
            ),
            offer.review(
                "advisor",
                1,
                "request_changes",
                summary="above the fair range",
                changes=["Lower the price"],
                details={"price_usd": 47_000_000},
            ),
            *offer.reviews_ok(2),
            BOARD_OK,
            offer.acknowledged(),
            offer.decided("clear"),
            offer.target(1, "offer.rejected", note="not for sale"),
        ],
    )
    wf = offer.workflow_id
    assert_bad_ending(
        business_db,
        requested,
        offer,
        dr,
        status="rejected",
        reason="Nimbus Analytics rejected the offer in round 1: not for sale",
        stage="negotiation_r1",
    )
    versions = rows(
        business_db,
        "SELECT version, source, status, price_usd, terms FROM ma_offer_versions WHERE workflow_id = %s"
        " ORDER BY version",
        wf,
    )
    assert [(v, s, st, p) for v, s, st, p, _ in versions] == [
        (1, "prepared", "superseded", 50_000_000),
        (2, "reviews", "sent", 47_000_000),
    ]
    revised = versions[1][4]
    assert (
        revised["escrow_pct"] == 25
        and mac in revised["conditions"]
        and "Lower the price" in revised["conditions"]
    )
    assert revised["changes"] == ["counsel: needs a MAC clause", "advisor: above the fair range"]
    assert rows(
        business_db,
        "SELECT round, reviewer, version, status FROM ma_offer_reviews WHERE workflow_id = %s"
        " ORDER BY round, reviewer",
        wf,
    ) == [
        (1, "advisor", 1, "changes_requested"),
        (1, "counsel", 1, "changes_requested"),
        (2, "advisor", 2, "opinion_issued"),
        (2, "counsel", 2, "opinion_issued"),
    ]
    assert counts(sandbox.effects())[("counsel", "request_review")] == 2
    assert emails_to(sandbox, CONTACT) == [
        "Offer to acquire Nimbus Analytics",
        "Our offer for Nimbus Analytics: regulatory clearance obtained",
    ]

    undone = compensate(compensation_dag, requested, sandbox, business_db, wf)
    assert counts(undone) == {
        ("regulator", "withdraw_filing"): 1,
        ("email", "send"): 1,
        ("docstore", "archive_room"): 1,
        ("crm", "update_deal"): 1,
    }
    assert emails_to(sandbox, CONTACT)[-1] == WITHDRAWN_SUBJECT
    assert (
        one(business_db, "SELECT status FROM ma_regulatory_filings WHERE workflow_id = %s", wf) == "withdrawn"
    )
    assert rows(
        business_db, "SELECT DISTINCT status FROM ma_offer_versions WHERE workflow_id = %s ORDER BY 1", wf
    ) == [
        ("superseded",),
        ("withdrawn",),
    ]


# ----------------------------------------------------------------------------- regulator
def after_the_offer_is_sent(offer: Offer) -> list[Any]:
    return [*offer.reviews_ok(), BOARD_OK, offer.acknowledged()]


def test_regulator_refuses(
    dag: Any,
    compensation_dag: Any,
    offer: Offer,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
) -> None:
    dr = run(
        dag,
        offer,
        [
            *after_the_offer_is_sent(offer),
            offer.decided("refuse", reason="dominant position in EU analytics"),
        ],
    )
    wf = offer.workflow_id
    reference = one(business_db, "SELECT reference FROM ma_regulatory_filings WHERE workflow_id = %s", wf)
    assert_bad_ending(
        business_db,
        requested,
        offer,
        dr,
        status="rejected",
        reason=f"the regulator refused the transaction (filing {reference}): dominant position in EU"
        " analytics",
        stage="regulatory_filing",
    )
    undone = compensate(compensation_dag, requested, sandbox, business_db, wf)
    # A refused filing is a closed case: nothing to withdraw at the portal; the target is told once.
    assert counts(undone) == {
        ("email", "send"): 1,
        ("docstore", "archive_room"): 1,
        ("crm", "update_deal"): 1,
    }
    assert emails_to(sandbox, CONTACT) == ["Offer to acquire Nimbus Analytics", WITHDRAWN_SUBJECT]
    assert (
        one(business_db, "SELECT status FROM ma_regulatory_filings WHERE workflow_id = %s", wf) == "refused"
    )


def test_regulator_conditions_accepted_by_the_board_found_by_the_poller_and_signed(
    dag: Any,
    offer: Offer,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
    children: ChildApi,
) -> None:
    divest = "Divest the EU analytics unit within 6 months"
    dr = run(
        dag,
        offer,
        [
            *after_the_offer_is_sent(offer),
            offer.regulator(
                "clear_with_conditions", task_id="regulator_decision", via="poll", conditions=[divest]
            ),
            Approve("conditions_review", "board", comment="acceptable"),
            offer.target(1, "offer.accepted"),
            offer.child_ends("completed"),
        ],
    )
    wf = offer.workflow_id
    assert dr.state == "success", task_states(dr)
    filing_id = one(business_db, "SELECT filing_id FROM ma_regulatory_filings WHERE workflow_id = %s", wf)
    assert offer.polled == [{"checked": 1, "found": [f"regulator:poll:{filing_id}:cleared_with_conditions"]}]
    assert one(
        business_db, "SELECT status, conditions FROM ma_regulatory_filings WHERE workflow_id = %s", wf
    ) == (
        "cleared_with_conditions",
        [divest],
    )
    (start,) = children.started
    assert start["conf"]["terms"]["regulatory_conditions"] == [divest]
    assert [
        r[0] for r in rows(business_db, "SELECT stage FROM approval_requests WHERE workflow_id = %s", wf)
    ] == [
        "board_approval",
        "conditions_review",
    ]
    from workflows.ma_offer.poller import poll_filing_statuses

    assert poll_filing_statuses(workflow_ids=[wf]) == {"checked": 0, "found": []}
    assert requested == []


def test_regulator_conditions_rejected_by_the_board_withdraw_the_filing(
    dag: Any,
    compensation_dag: Any,
    offer: Offer,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
) -> None:
    dr = run(
        dag,
        offer,
        [
            *after_the_offer_is_sent(offer),
            offer.decided("clear_with_conditions", conditions=["Divest the EU analytics unit"]),
            Approve("conditions_review", "board", "Reject", "the remedy costs more than the deal"),
        ],
    )
    assert_bad_ending(
        business_db,
        requested,
        offer,
        dr,
        status="rejected",
        reason="rejected at conditions_review by board: the remedy costs more than the deal",
        stage="conditions_review",
    )
    undone = compensate(compensation_dag, requested, sandbox, business_db, offer.workflow_id)
    assert counts(undone) == {
        ("regulator", "withdraw_filing"): 1,
        ("email", "send"): 1,
        ("docstore", "archive_room"): 1,
        ("crm", "update_deal"): 1,
    }
    filing_id = one(
        business_db, "SELECT filing_id FROM ma_regulatory_filings WHERE workflow_id = %s", offer.workflow_id
    )
    portal = sandbox.get(f"/regulator/v1/filings/{filing_id}", headers=AUTH)
    assert portal["status"] == "withdrawn" and portal["withdrawal_reason"].startswith(
        "offer withdrawn: rejected at"
    )


# ----------------------------------------------------------------------------- target
def test_a_counter_beyond_the_mandate_goes_back_to_the_board_and_one_within_it_is_signed(
    dag: Any,
    offer: Offer,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
    children: ChildApi,
) -> None:
    dr = run(
        dag,
        offer,
        [
            *after_the_offer_is_sent(offer),
            offer.decided("clear"),
            offer.target(1, "offer.countered", price_usd=55_000_000, note="our growth is worth more"),
            Approve("negotiation_2.board_approval", "board", comment="stretch, but yes"),
            offer.target(2, "offer.countered", price_usd=57_000_000, note="final"),
            offer.child_ends("completed"),
        ],
    )
    wf = offer.workflow_id
    assert dr.state == "success", task_states(dr)
    assert rows(
        business_db,
        "SELECT version, source, status, price_usd FROM ma_offer_versions WHERE workflow_id = %s"
        " ORDER BY version",
        wf,
    ) == [
        (1, "prepared", "superseded", 50_000_000),
        (2, "counter", "superseded", 55_000_000),
        (3, "counter", "agreed", 57_000_000),
    ]
    assert rows(
        business_db,
        "SELECT round, response, counter_price_usd, next_step FROM ma_target_responses WHERE workflow_id = %s"
        " ORDER BY round",
        wf,
    ) == [(1, "counter", 55_000_000, "board_approval"), (2, "counter", 57_000_000, "signing")]
    # 57 M is within 5 % of the 55 M the board approved in round 2: agreed without the board.
    assert one(
        business_db, "SELECT board_price_usd, agreed_price_usd FROM ma_offers WHERE workflow_id = %s", wf
    ) == (55_000_000, 57_000_000)
    assert [
        r[0]
        for r in rows(
            business_db, "SELECT stage FROM approval_requests WHERE workflow_id = %s ORDER BY created_at", wf
        )
    ] == ["board_approval", "board_approval_r2"]
    assert emails_to(sandbox, CONTACT) == [
        "Offer to acquire Nimbus Analytics",
        "Our offer for Nimbus Analytics: regulatory clearance obtained",
        "Revised offer to acquire Nimbus Analytics",
        "Acquisition of Nimbus Analytics: signed",
    ]
    (start,) = children.started
    assert start["conf"]["terms"]["price_usd"] == 57_000_000 and start["conf"]["terms"]["version"] == 3
    assert counts(sandbox.effects())[("docstore", "put_object")] == 3  # one letter per version
    assert requested == []


def test_out_of_rounds_when_the_last_counter_is_beyond_the_mandate(
    dag: Any,
    compensation_dag: Any,
    offer: Offer,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
) -> None:
    dr = run(
        dag,
        offer,
        [
            *after_the_offer_is_sent(offer),
            offer.decided("clear"),
            offer.target(1, "offer.countered", price_usd=60_000_000),
        ],
        max_counter_rounds=1,
    )
    assert_bad_ending(
        business_db,
        requested,
        offer,
        dr,
        status="rejected",
        reason="no agreement with Nimbus Analytics after 1 round (its last counter, USD 60,000,000, is more"
        " than 5% above the board's USD 50,000,000)",
        stage="negotiation_r1",
    )
    assert task_states(dr)["negotiation_2.board_approval"] == "skipped"
    undone = compensate(compensation_dag, requested, sandbox, business_db, offer.workflow_id)
    assert counts(undone) == {
        ("regulator", "withdraw_filing"): 1,
        ("email", "send"): 1,
        ("docstore", "archive_room"): 1,
        ("crm", "update_deal"): 1,
    }


def test_the_target_never_answers(
    dag: Any,
    compensation_dag: Any,
    offer: Offer,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
) -> None:
    dr = run(
        dag,
        offer,
        [*after_the_offer_is_sent(offer), offer.decided("clear")],
        target_response_timeout_hours=0.0005,
    )
    assert_bad_ending(
        business_db,
        requested,
        offer,
        dr,
        status="expired",
        reason="Nimbus Analytics did not answer round 1 in time",
        stage="negotiation_r1",
    )
    undone = compensate(compensation_dag, requested, sandbox, business_db, offer.workflow_id)
    assert counts(undone)[("email", "send")] == 1 and counts(undone)[("regulator", "withdraw_filing")] == 1
    assert emails_to(sandbox, CONTACT).count(WITHDRAWN_SUBJECT) == 1


# ----------------------------------------------------------------------------- signing
def test_the_signature_declined_in_the_child_compensates_through_the_child(
    dag: Any,
    compensation_dag: Any,
    offer: Offer,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
    children: ChildApi,
) -> None:
    dr = run(
        dag,
        offer,
        [
            *after_the_offer_is_sent(offer),
            offer.decided("clear"),
            offer.target(1, "offer.accepted"),
            offer.child_ends("rejected", "Dana Cfo declined to sign envelope env_1"),
        ],
    )
    wf = offer.workflow_id
    assert_bad_ending(
        business_db,
        requested,
        offer,
        dr,
        status="rejected",
        reason="the target declined to sign (Dana Cfo declined to sign envelope env_1)",
        stage="signing",
    )
    assert undo_actions(business_db, wf)[0] == "workflow.compensate_child"
    undone = compensate(compensation_dag, requested, sandbox, business_db, wf)
    # The child undoes its own effects (its envelope) through its own compensation: asked once, not stopped
    # (it ended already); this workflow withdraws the offer and the filing.
    assert [(c["workflow_id"], c["bad_ending"], c["source"]) for c in children.compensations] == [
        (offer.child_workflow_id, "rejected", f"parent:{wf}")
    ]
    assert children.stopped == []
    assert counts(undone) == {
        ("regulator", "withdraw_filing"): 1,
        ("email", "send"): 1,
        ("docstore", "archive_room"): 1,
        ("crm", "update_deal"): 1,
    }
    assert offer_state(business_db, offer) == ("rejected", "signing")
    assert rows(business_db, "SELECT DISTINCT status FROM ma_offer_versions WHERE workflow_id = %s", wf) == [
        ("withdrawn",)
    ]


# ----------------------------------------------------------------------------- failure mid-step
def reconcile_lost_callback(monkeypatch: pytest.MonkeyPatch, dr: Any) -> None:
    """One pass of the reconciler, with the REST API answering what a live Airflow would: this run failed."""
    from execution_plane.saga.reconciler import reconcile

    class Api:
        def dag_runs(self, dag_id: str, *, state: str, limit: int, offset: int) -> list[dict[str, Any]]:
            if dag_id != DAG_ID or state != "failed" or offset:
                return []
            return [{"dag_run_id": dr.run_id, "end_date": dr.end_date.isoformat()}]

    monkeypatch.setenv("EP_RECONCILER_GRACE_S", "0")
    reconcile(api=Api())  # type: ignore[arg-type]


def test_regulator_portal_down_fails_the_filing_and_compensation_withdraws_the_offer(
    dag: Any,
    compensation_dag: Any,
    offer: Offer,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    def portal_down() -> None:
        sandbox.post(
            "/_sandbox/faults",
            {"system": "regulator", "action": "submit_filing", "mode": "error", "status": 503, "count": 1000},
        )

    with quick_retries(dag):
        dr = run(dag, offer, [*offer.reviews_ok(), Do("board_approval", portal_down), BOARD_OK])
    wf = offer.workflow_id
    assert dr.state == "failed"
    tis = {ti.task_id: ti for ti in dr.get_task_instances()}
    assert (str(tis["file_with_regulator"].state), tis["file_with_regulator"].try_number) == ("failed", 4)
    assert counts(sandbox.effects())[("regulator", "submit_filing")] == 0
    assert emails_to(sandbox, CONTACT) == ["Offer to acquire Nimbus Analytics"]  # sent once, never again
    assert one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "running"
    assert requested == []
    reconcile_lost_callback(monkeypatch, dr)
    (ask,) = [c for c in requested if c.get("workflow_id") == wf]
    assert (ask["bad_ending"], ask["source"]) == ("failed", "reconciler")

    httpx.delete(f"{sandbox.url}/_sandbox/faults", timeout=10).raise_for_status()  # the portal is back
    undone = compensate(compensation_dag, requested, sandbox, business_db, wf)
    assert counts(undone) == {
        ("email", "send"): 1,
        ("docstore", "archive_room"): 1,
        ("crm", "update_deal"): 1,
    }
    assert emails_to(sandbox, CONTACT) == ["Offer to acquire Nimbus Analytics", WITHDRAWN_SUBJECT]
    assert offer_state(business_db, offer)[0] == "withdrawn"
    assert rows(business_db, "SELECT 1 FROM ma_regulatory_filings WHERE workflow_id = %s", wf) == []
