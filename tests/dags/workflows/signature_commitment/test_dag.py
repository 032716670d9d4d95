"""signature_commitment through dag.test(): the happy path and every bad ending, checked against the
business tables, the saga ledger and the sandbox's effect log; compensation runs through saga_compensation's
dag.test().

The signer acts through the sandbox's control route with ``deliver=false`` (there is no API server to take the
sandbox's webhook), and the test delivers the provider's event itself through the real webhook app, or lets
the status poller find it (the lost-webhook case). The deal desk answers the re-negotiate choice through the
Driver, as Airflow's hitlDetails route does.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.support.dagtest import Approve, ScriptDriver, deliver

pytestmark = pytest.mark.timeout(300)

DAG_ID = "signature_commitment"
TERMS = {"revenue_share_pct": 20, "term_months": 24, "territory": ["AE", "SA"], "exclusivity": False}
APPROVER = "exec@execution-plane.example"


@pytest.fixture(scope="module")
def dag() -> Any:
    """The DAG without its failure callback: in dag.test() Airflow 3.3.2 builds the callback's context with
    DagRun.execute_dag_callbacks, whose get_template_context() raises ParamValidationError for params without
    a default (request_id, ...) and aborts dag.test(). The callback only asks the REST API to start
    saga_compensation (absent here); each test runs saga_compensation itself, and
    test_failure_callback_skips_a_refused_token covers the callback's own decision."""
    loaded = _load("signature_commitment")
    loaded.on_failure_callback = None
    loaded.has_on_failure_callback = False
    return loaded


@pytest.fixture(scope="module")
def compensation_dag() -> Any:
    return _load("saga_compensation")


def _load(dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    from devtools.dag_files import dag_files

    bag = DagBag(dag_folder=str(dag_files()[dag_id]), safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


@pytest.fixture(scope="module", autouse=True)
def paused_for_live_schedulers(dag: Any) -> Iterator[None]:
    """dag.test() runs share the test metadata database with live stacks (tests/e2e) that may be running: a
    live scheduler must not schedule this DAG's dag.test() runs as well. dag.test() ignores the pause."""
    from airflow.models import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select, update

    with create_session() as session:
        before = session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == DAG_ID))
        session.execute(update(DagModel).where(DagModel.dag_id == DAG_ID).values(is_paused=True))
    try:
        yield
    finally:
        if before is not None:
            with create_session() as session:
                session.execute(update(DagModel).where(DagModel.dag_id == DAG_ID).values(is_paused=before))


@pytest.fixture(autouse=True)
def no_live_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """dag.test() has no API server: starting compensation from a task must fail fast (port 9 is closed), so
    each test runs saga_compensation itself and never reaches someone else's running stack."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_AIRFLOW_API",
        json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9", "login": "nobody", "password": "x"}),
    )


# ----------------------------------------------------------------------------- helpers
def token(
    request_id: str,
    *,
    terms: dict[str, Any] = TERMS,
    secret: str | None = None,
    issued_at: int | None = None,
    ttl_s: int = 3600,
) -> str:
    from airflow.sdk import BaseHook

    from include.domain.common import canonical_json, sha256_hex
    from workflows.signature_commitment.domain import issue_token

    return issue_token(
        secret or BaseHook.get_connection("approval_token").password,
        workflow_key=f"{DAG_ID}:{request_id}",
        terms_sha256=sha256_hex(canonical_json(terms)),
        approver=APPROVER,
        issued_at=int(time.time()) if issued_at is None else issued_at,
        ttl_s=ttl_s,
    )


def new_request(**overrides: Any) -> dict[str, Any]:
    request_id = f"sc-{uuid.uuid4().hex[:10]}"
    conf = {
        "request_id": request_id,
        "deal_id": f"deal-{request_id}",
        "partner_id": "P-STRONG-1",
        "terms": TERMS,
        "approval_token": token(request_id),
        "signer_email": "dana@partner.example",
        "signer_name": "Dana Signer",
        "signature_timeout_hours": 168,
        "renegotiation_timeout_hours": 72,
    }
    conf.update(overrides)
    return conf


class Signer(threading.Thread):
    """Once the envelope is out: the signer acts (sandbox control route, webhook not delivered), then the
    provider's event arrives through the webhook app, or the status poller finds it."""

    def __init__(
        self, business_db_url: str, sandbox: Any, request_id: str, action: str, *, via: str = "webhook"
    ) -> None:
        super().__init__(daemon=True)
        self.db_url, self.sandbox, self.action, self.via = business_db_url, sandbox, action, via
        self.workflow_id = f"{DAG_ID}:{request_id}"
        self.envelope_id: str | None = None
        self.polled: dict[str, Any] | None = None
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            self.envelope_id = self._sent_envelope()
            acted = self.sandbox.post(
                f"/_sandbox/esign/envelopes/{self.envelope_id}/{self.action}?deliver=false"
            )
            if self.via == "webhook":
                deliver("esign", acted["event"], "webhook_esign")
            else:
                from workflows.signature_commitment.poller import poll_envelope_statuses

                self.polled = poll_envelope_statuses(workflow_ids=[self.workflow_id])
        except BaseException as exc:
            traceback.print_exc()  # shown even if the run then waits for an event that never comes
            self.errors.append(exc)

    def _sent_envelope(self) -> str:
        import psycopg2

        deadline = time.monotonic() + 60
        conn = psycopg2.connect(self.db_url)
        conn.autocommit = True
        try:
            while time.monotonic() < deadline:
                with conn.cursor() as cur:
                    cur.execute(
                        "SELECT envelope_id FROM signature_requests WHERE workflow_id = %s"
                        " AND status = 'sent'",
                        (self.workflow_id,),
                    )
                    row = cur.fetchone()
                if row and row[0]:
                    return str(row[0])
                time.sleep(0.2)
        finally:
            conn.close()
        raise TimeoutError(f"no envelope sent for {self.workflow_id}")


def fail_stale_runs() -> None:
    """A run left 'running' by a killed test would be the one the Driver answers (it takes the newest running
    run it sees first): only these tests run this DAG in the test database."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(
            update(DagRun).where(DagRun.dag_id == DAG_ID, DagRun.state == "running").values(state="failed")
        )


def run(dag: Any, conf: dict[str, Any], *, script: list | None = None, signer: Signer | None = None) -> Any:
    fail_stale_runs()
    # The run with this request's conf, whichever other runs of the DAG the database holds.
    driver = ScriptDriver(DAG_ID, script or [], request_id=conf["request_id"]).start()
    if signer:
        signer.start()
    try:
        dr = dag.test(run_conf=conf)
    finally:
        driver.stop()
        if signer:
            signer.join(30)
    assert not driver.errors, driver.errors
    assert not (signer and signer.errors), signer.errors if signer else None
    return dr


def compensate(compensation_dag: Any, wf: str, bad_ending: str) -> Any:
    dr = compensation_dag.test(
        run_conf={
            "workflow_id": wf,
            "reason": f"test: {bad_ending}",
            "bad_ending": bad_ending,
            "source": "test",
        }
    )
    assert dr.state == "success"
    return dr


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


def emails(sandbox: Any) -> list[tuple[str, str]]:
    return sorted((e["payload"]["to"], e["payload"]["subject"]) for e in sandbox.effects(system="email"))


def task_states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


@pytest.fixture
def retry_fast(dag: Any) -> Iterator[None]:
    """The provider-failure test waits through every retry of the send step: seconds, not minutes."""
    task = dag.get_task("send_signature_request")
    saved = task.retry_delay, task.max_retry_delay
    task.retry_delay, task.max_retry_delay = timedelta(seconds=0.5), timedelta(seconds=1)
    try:
        yield
    finally:
        task.retry_delay, task.max_retry_delay = saved


def assert_compensated_once(compensation_dag: Any, sandbox: Any, db: Any, wf: str, bad_ending: str) -> dict:
    """Compensate, then compensate again: the second run must change nothing."""
    compensate(compensation_dag, wf, bad_ending)
    assert one(db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "compensated"
    pending = rows(
        db,
        "SELECT step FROM saga_steps WHERE workflow_id = %s AND compensation_action IS NOT NULL"
        " AND status <> 'compensated'",
        wf,
    )
    assert pending == []
    effects_after_first = sandbox.effects()
    audit_after_first = one(db, "SELECT count(*) FROM audit_log WHERE workflow_id = %s", wf)
    compensate(compensation_dag, wf, bad_ending)
    assert sandbox.effects() == effects_after_first
    assert one(db, "SELECT count(*) FROM audit_log WHERE workflow_id = %s", wf) == audit_after_first
    assert one(db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "compensated"
    return dict(
        rows(
            db,
            "SELECT step, compensation_result FROM saga_steps WHERE workflow_id = %s"
            " AND compensation_action IS NOT NULL",
            wf,
        )
    )


# ----------------------------------------------------------------------------- happy path
def test_happy_path_signs_records_and_seals_the_evidence_once(
    dag: Any, sandbox: Any, business_db: Any, business_db_url: str
) -> None:
    from include.domain.common import canonical_json, sha256_hex

    conf = new_request()
    wf = f"{DAG_ID}:{conf['request_id']}"
    signer = Signer(business_db_url, sandbox, conf["request_id"], "sign")
    dr = run(dag, conf, signer=signer)

    assert dr.state == "success"
    assert one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "completed"
    assert one(
        business_db,
        "SELECT status, envelope_id, approved_by FROM signature_requests WHERE workflow_id = %s",
        wf,
    ) == ("signed", signer.envelope_id, APPROVER)
    assert one(business_db, "SELECT status, workflow_id FROM deals WHERE deal_id = %s", conf["deal_id"]) == (
        "signed",
        wf,
    )
    effects = counts(sandbox)
    assert effects[("esign", "create_envelope")] == 1
    assert effects[("esign", "void_envelope")] == 0
    assert effects[("crm", "update_deal")] == 1
    assert effects[("docstore", "put_object")] == 2  # terms PDF, evidence pack PDF
    deal_team = sandbox.get(f"/crm/v1/deals/{conf['deal_id']}", headers={"Authorization": "Bearer t"})[
        "owner_email"
    ]
    assert emails(sandbox) == sorted(
        [
            ("dana@partner.example", f"Signature requested: {conf['deal_id']}"),
            ("dana@partner.example", f"Signed: {conf['deal_id']} with Dana Signer"),
            (deal_team, f"Signed: {conf['deal_id']} with Dana Signer"),
        ]
    )
    crm_deal = sandbox.effects(system="crm", action="update_deal")[0]["payload"]
    assert crm_deal["status"] == "signed" and crm_deal["envelope_id"] == signer.envelope_id

    manifest, manifest_sha, document_sha = one(
        business_db,
        "SELECT manifest, manifest_sha256, document_sha256 FROM evidence_packs WHERE workflow_id = %s",
        wf,
    )
    assert sha256_hex(canonical_json(manifest)) == manifest_sha
    kinds = Counter(item["kind"] for item in manifest["items"])
    assert kinds["approval_token"] == 1 and kinds["document:signature_terms"] == 1
    assert kinds["event:envelope.signed"] == 1 and kinds["step:esign.create_envelope"] == 1
    assert kinds["step:crm.update_deal"] == 1 and kinds["step:email.send"] == 3
    assert one(business_db, "SELECT kind FROM documents WHERE sha256 = %s", document_sha) == "evidence_pack"
    # Its stored scope collects the same records again: the rebuild has the same hash.
    from execution_plane.saga import records
    from include.domain.evidence import EvidenceScope, digest, pack_from_records

    scope = EvidenceScope.model_validate(
        one(business_db, "SELECT scope FROM evidence_packs WHERE workflow_id = %s", wf)
    )
    with business_db.cursor() as cur:
        rebuilt = pack_from_records(
            scope, records.records_as_of(cur, scope.workflow_ids, **scope.query(), digest=digest)
        )
    assert rebuilt.manifest_sha256 == manifest_sha


# ----------------------------------------------------------------------------- refused approval tokens
@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("forged", "bad_signature"),
        ("expired", "expired"),
        ("other_terms", "terms_mismatch"),
    ],
)
def test_refused_token_fails_before_anything_is_sent(
    dag: Any, sandbox: Any, business_db: Any, case: str, reason: str
) -> None:
    conf = new_request()
    request_id = conf["request_id"]
    conf["approval_token"] = {
        "forged": lambda: token(request_id, secret="not-the-bridge-secret"),
        "expired": lambda: token(request_id, issued_at=int(time.time()) - 7200, ttl_s=60),
        "other_terms": lambda: token(request_id, terms={**TERMS, "revenue_share_pct": 35}),
    }[case]()
    wf = f"{DAG_ID}:{request_id}"

    dr = run(dag, conf)

    assert dr.state == "failed"
    states = task_states(dr)
    assert states["verify_approval_token"] == "failed"
    assert states["send_signature_request"] == "upstream_failed"
    assert sandbox.effects() == []
    assert rows(business_db, "SELECT 1 FROM signature_requests WHERE workflow_id = %s", wf) == []
    assert rows(business_db, "SELECT 1 FROM saga_workflows WHERE workflow_id = %s", wf) == []
    refusal = one(
        business_db,
        "SELECT details FROM audit_log WHERE workflow_id = %s AND action = 'approval_token.refused'",
        wf,
    )
    assert refusal["reason"] == reason


# ----------------------------------------------------------------------------- bad endings after sending
def test_declined_voids_nothing_twice_notifies_once_and_renegotiates(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, business_db_url: str
) -> None:
    conf = new_request()
    wf = f"{DAG_ID}:{conf['request_id']}"
    signer = Signer(business_db_url, sandbox, conf["request_id"], "decline")
    dr = run(
        dag,
        conf,
        signer=signer,
        script=[Approve("renegotiate_choice", "deal_desk", "Re-negotiate", "counter at 18%")],
    )

    assert dr.state == "failed"
    states = task_states(dr)
    assert states["end_unsigned"] == "failed" and states["renegotiate"] == "success"
    assert states["close_deal"] == "skipped" and states["signed"] == "skipped"
    assert one(business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf) == (
        "rejected",
        f"Dana Signer declined to sign envelope {signer.envelope_id}",
    )
    assert one(business_db, "SELECT status FROM signature_requests WHERE workflow_id = %s", wf) == "declined"
    assert one(
        business_db, "SELECT status, status_reason FROM deals WHERE deal_id = %s", conf["deal_id"]
    ) == ("renegotiate", "deal_desk chose Re-negotiate: counter at 18%")
    assert one(
        business_db,
        "SELECT status, decided_by FROM approval_requests WHERE workflow_id = %s"
        " AND stage = 'renegotiate_choice'",
        wf,
    ) == ("approved", "deal_desk")
    assert (
        one(
            business_db,
            "SELECT actor FROM audit_log WHERE workflow_id = %s AND action = 'deal.renegotiate'",
            wf,
        )
        == "deal_desk"
    )
    crm = [e["payload"]["status"] for e in sandbox.effects(system="crm", action="update_deal")]
    assert crm == ["renegotiate"]
    assert (
        "deal_desk@execution-plane.example",
        f"Signature not obtained for {conf['deal_id']}: re-negotiate or close the deal?",
    ) in emails(sandbox)

    before = counts(sandbox)
    results = assert_compensated_once(compensation_dag, sandbox, business_db, wf, "rejected")
    after = counts(sandbox) - before
    # A declined envelope can no longer be signed: the provider refuses a void, and none is needed.
    assert after[("esign", "void_envelope")] == 0
    assert (
        sandbox.get(f"/esign/v1/envelopes/{signer.envelope_id}", headers={"Authorization": "Bearer t"})[
            "status"
        ]
        == "declined"
    )
    assert results["signature_request.envelope"]["status"] == "declined"
    assert after == Counter({("email", "send"): 2})
    void_notices = [
        e["payload"]
        for e in sandbox.effects(system="email")
        if e["payload"]["subject"].startswith("Signature request withdrawn")
    ]
    assert sorted(n["to"] for n in void_notices) == sorted(
        ["dana@partner.example", _deal_team(sandbox, conf)]
    )
    # Records stay truthful: declined stays declined, the deal keeps the person's choice.
    assert one(business_db, "SELECT status FROM signature_requests WHERE workflow_id = %s", wf) == "declined"
    assert one(business_db, "SELECT status FROM deals WHERE deal_id = %s", conf["deal_id"]) == "renegotiate"


def _deal_team(sandbox: Any, conf: dict[str, Any]) -> str:
    return str(
        sandbox.get(f"/crm/v1/deals/{conf['deal_id']}", headers={"Authorization": "Bearer t"})["owner_email"]
    )


def test_expired_envelope_sends_expiry_notices_once_and_closes_the_deal(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, business_db_url: str
) -> None:
    conf = new_request()
    wf = f"{DAG_ID}:{conf['request_id']}"
    signer = Signer(business_db_url, sandbox, conf["request_id"], "expire")
    dr = run(dag, conf, signer=signer, script=[Approve("renegotiate_choice", "admin", "Close deal", "lost")])

    assert dr.state == "failed"
    assert task_states(dr)["close_deal"] == "success"
    assert one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "expired"
    assert one(business_db, "SELECT status FROM signature_requests WHERE workflow_id = %s", wf) == "expired"
    assert one(business_db, "SELECT status FROM deals WHERE deal_id = %s", conf["deal_id"]) == "closed"
    assert one(
        business_db,
        "SELECT status, decided_by FROM approval_requests WHERE workflow_id = %s"
        " AND stage = 'renegotiate_choice'",
        wf,
    ) == ("rejected", "admin")
    assert [e["payload"]["status"] for e in sandbox.effects(system="crm", action="update_deal")] == ["closed"]

    before = counts(sandbox)
    assert_compensated_once(compensation_dag, sandbox, business_db, wf, "expired")
    assert counts(sandbox) - before == Counter({("email", "send"): 2})
    expiry = [
        e["payload"]
        for e in sandbox.effects(system="email")
        if e["payload"]["subject"] == f"Signature request expired: {conf['deal_id']}"
    ]
    assert sorted(n["to"] for n in expiry) == sorted(["dana@partner.example", _deal_team(sandbox, conf)])


def test_wait_timed_out_voids_the_envelope_once(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any
) -> None:
    conf = new_request(signature_timeout_hours=0.0005)  # 1.8 s
    wf = f"{DAG_ID}:{conf['request_id']}"
    dr = run(dag, conf, script=[Approve("renegotiate_choice", "deal_desk", "Close deal")])

    assert dr.state == "failed"
    envelope_id = one(business_db, "SELECT envelope_id FROM signature_requests WHERE workflow_id = %s", wf)
    reason = one(business_db, "SELECT reason FROM saga_workflows WHERE workflow_id = %s", wf)
    assert reason.startswith(f"envelope {envelope_id} was not signed by ")
    assert one(business_db, "SELECT status FROM deals WHERE deal_id = %s", conf["deal_id"]) == "closed"

    before = counts(sandbox)
    assert_compensated_once(compensation_dag, sandbox, business_db, wf, "expired")
    assert counts(sandbox) - before == Counter({("esign", "void_envelope"): 1, ("email", "send"): 2})
    envelope = sandbox.get(f"/esign/v1/envelopes/{envelope_id}", headers={"Authorization": "Bearer t"})
    assert envelope["status"] == "voided"
    void_notices = [
        e
        for e in sandbox.effects(system="email")
        if e["payload"]["subject"] == f"Signature request withdrawn: {conf['deal_id']}"
    ]
    assert sorted(e["payload"]["to"] for e in void_notices) == sorted(
        ["dana@partner.example", _deal_team(sandbox, conf)]
    )
    # The void happened before anyone was told it had.
    void_seq = sandbox.effects(system="esign", action="void_envelope")[0]["seq"]
    assert all(e["seq"] > void_seq for e in void_notices)


def test_lost_webhook_is_found_by_the_status_poller(
    dag: Any, sandbox: Any, business_db: Any, business_db_url: str
) -> None:
    conf = new_request()
    wf = f"{DAG_ID}:{conf['request_id']}"
    signer = Signer(business_db_url, sandbox, conf["request_id"], "sign", via="poll")
    dr = run(dag, conf, signer=signer)

    assert dr.state == "success"
    event_id = f"esign:poll:{signer.envelope_id}:signed"
    assert signer.polled == {"checked": 1, "found": [event_id]}
    assert rows(
        business_db,
        "SELECT source, event_type, correlation_key FROM external_events WHERE correlation_key = %s",
        wf,
    ) == [("esign", "envelope.signed", wf)]
    assert one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == "completed"
    assert counts(sandbox)[("esign", "create_envelope")] == 1
    # A second poll finds nothing left to do: the request is signed.
    from workflows.signature_commitment.poller import poll_envelope_statuses

    assert poll_envelope_statuses(workflow_ids=[wf]) == {"checked": 0, "found": []}


def test_failing_esign_provider_fails_the_run_and_compensation_closes_the_request(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, retry_fast: None
) -> None:
    sandbox.post(
        "/_sandbox/faults",
        {"system": "esign", "action": "create_envelope", "mode": "error", "status": 503, "count": 10},
    )
    conf = new_request()
    wf = f"{DAG_ID}:{conf['request_id']}"
    dr = run(dag, conf)

    assert dr.state == "failed"
    send = next(ti for ti in dr.get_task_instances() if ti.task_id == "send_signature_request")
    assert str(send.state) == "failed" and send.try_number == 4
    assert counts(sandbox)[("esign", "create_envelope")] == 0
    assert one(business_db, "SELECT status FROM signature_requests WHERE workflow_id = %s", wf) == "approved"

    before = counts(sandbox)
    assert_compensated_once(compensation_dag, sandbox, business_db, wf, "failed")
    assert counts(sandbox) - before == Counter()  # no envelope, nobody told: nothing to undo outside
    assert one(business_db, "SELECT status FROM signature_requests WHERE workflow_id = %s", wf) == "voided"


def test_failure_callback_skips_a_refused_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused token registered nothing: compensating its request_id could undo another run's workflow."""
    from types import SimpleNamespace

    from execution_plane.saga import callbacks

    started: list[str] = []
    monkeypatch.setattr(
        callbacks, "start_compensation_on_failure", lambda ctx: started.append(ctx["ti"].task_id)
    )
    # The DAG as parsed (the module fixture takes the callback off its copy for dag.test()).
    callback = _load(DAG_ID).on_failure_callback

    callback({"ti": SimpleNamespace(task_id="verify_approval_token"), "run_id": "r1"})
    assert started == []
    callback({"ti": SimpleNamespace(task_id="send_signature_request"), "run_id": "r1"})
    assert started == ["send_signature_request"]
