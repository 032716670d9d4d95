"""proposal_generation through dag.test(): a discount the deal desk approves (context retrieved from past
proposals and playbooks, an English and Arabic PDF stored once by its hash, the owner told); a proposal
within the rep's authority while the knowledge store is unavailable (drafted from the deal alone, said so);
a discount rejected or not decided in time (no proposal, the owner told, nothing to undo); a product list
the CPQ rules refuse (refused before anything happens). Checked against the business tables, the ledger and
the sandbox's effect log."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.support.dagtest import Approve, Expire, ScriptDriver
from tests.support.workflow_runs import (
    compensate_as_asked,
    dag_under_test,
    ledger_steps,
    load_dag,
    one,
    record_rest_calls,
    rows,
    task_states,
    workflow_status,
)

pytestmark = pytest.mark.timeout(600)

DAG_ID = "proposal_generation"
DESK = "deal_desk"
LAUNCH = [
    {"sku": "EP-PLATFORM", "quantity": 300},
    {"sku": "EP-ANALYTICS", "quantity": 300},
    {"sku": "EP-ONBOARDING", "quantity": 1},
]


@pytest.fixture(scope="module")
def dag() -> Iterator[Any]:
    with dag_under_test(DAG_ID) as dag:
        yield dag


@pytest.fixture(scope="module")
def compensation_dag() -> Any:
    return load_dag("saga_compensation")


@pytest.fixture
def requested(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    return record_rest_calls(monkeypatch)


@pytest.fixture
def knowledge(sandbox: Any) -> list[str]:
    """The labelled knowledge set (past proposals, playbooks, memos, term sheets), all of it, in the knowledge
    store, as the knowledge_retrieval tests leave it (ingested once; unchanged afterwards): what the store
    holds must not depend on which test ran first. Returns the ids of its documents."""
    from execution_plane.services.retrieval import ingest_document_task
    from include.services.retrieval.corpus import load_documents

    documents = load_documents()
    for document in documents:
        ingest_document_task(document.model_dump())
    return [document.document_id for document in documents]


@pytest.fixture
def no_knowledge_store(monkeypatch: pytest.MonkeyPatch, business_db_url: str) -> Iterator[None]:
    """knowledge_db pointed at a Postgres database without pgvector, as on a server that lacks it."""
    from execution_plane.services import knowledge_store

    knowledge_store.close_pool()
    monkeypatch.setenv("AIRFLOW_CONN_KNOWLEDGE_DB", business_db_url)
    yield
    knowledge_store.close_pool()


def run(dag: Any, script: list[Any], **params: Any) -> tuple[Any, str]:
    request_id = f"pg-{uuid.uuid4().hex[:10]}"
    conf = {"request_id": request_id, "deal_id": f"D-{request_id}", "items": LAUNCH, **params}
    driver = ScriptDriver(DAG_ID, script, timeout_s=240, request_id=request_id).start()
    try:
        dr = dag.test(run_conf=conf)
    finally:
        driver.stop()
    assert not driver.errors, driver.errors
    return dr, f"{DAG_ID}:{request_id}"


def proposal(db: Any, wf: str) -> tuple[Any, ...]:
    return one(
        db,
        "SELECT status, approval_status, approved_by, context_status, net_total, discount_pct,"
        " document_sha256 FROM proposals WHERE workflow_id = %s",
        wf,
    )


def effect_counts(sandbox: Any) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in sandbox.effects())


def test_a_discount_the_deal_desk_approves_gives_one_bilingual_pdf(
    dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]], knowledge: list[str]
) -> None:
    dr, wf = run(
        dag, [Approve("discount_approval", DESK, comment="strategic account")], requested_discount_pct=12
    )

    assert dr.state == "success" and requested == []
    assert workflow_status(wf) == ("completed", None)
    status, approval, approved_by, context, net, pct, sha = proposal(business_db, wf)
    assert (status, approval, approved_by, context) == ("sent", "approved", DESK, "retrieved")
    assert (net, pct) == (
        Decimal("316553.60"),
        Decimal("30.96"),
    )  # 458,500 list: -15 % tier, -8 % Launch, -12 %
    assert rows(
        business_db, "SELECT stage, status, decided_by FROM approval_requests WHERE workflow_id = %s", wf
    ) == [("discount_approval", "approved", DESK)]
    # Stored once by its hash: one row, one object in the store, the bytes behind that hash.
    assert rows(business_db, "SELECT kind, workflow_id FROM documents WHERE sha256 = %s", sha) == [
        ("proposal", wf)
    ]
    (put,) = sandbox.effects(system="docstore", action="put_object")
    assert put["resource_id"] == sha
    context = one(business_db, "SELECT context FROM proposals WHERE workflow_id = %s", wf)
    retrieved = {p["document_id"] for p in context["passages"]}
    assert retrieved and retrieved <= set(knowledge), retrieved
    draft = one(business_db, "SELECT draft FROM proposals WHERE workflow_id = %s", wf)
    assert set(draft) == {"en", "ar"} and "منصة" in draft["ar"]

    assert effect_counts(sandbox) == {
        ("llm", "completion"): 2,  # the English and the Arabic summary
        ("docstore", "put_object"): 1,
        ("email", "send"): 2,  # the deal desk asked, the owner told
    }
    mails = {e["payload"]["to"]: e["payload"] for e in sandbox.effects(system="email")}
    owner = next(to for to in mails if to.endswith("@crm.example"))
    assert (
        mails[owner]["subject"].startswith("Proposal ready: ") and "316,553.60 USD" in mails[owner]["subject"]
    )
    assert "approved by the deal desk (deal_desk)" in mails[owner]["body"]
    assert "30.96 % off list" in mails["deal_desk@execution-plane.example"]["body"]
    assert [undo for _step, _status, undo in ledger_steps(business_db, wf) if undo] == []


def test_within_authority_without_the_knowledge_store_the_draft_says_so(
    dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]], no_knowledge_store: None
) -> None:
    items = [{"sku": "EP-PLATFORM", "quantity": 20}, {"sku": "EP-ARABIC", "quantity": 20}]
    dr, wf = run(dag, [], items=items, requested_discount_pct=5, currency="SAR", language="ar")

    assert dr.state == "success" and requested == []
    assert task_states(dr)["discount_approval"] == "skipped"
    status, approval, approved_by, context, net, pct, _sha = proposal(business_db, wf)
    assert (status, approval, approved_by, context) == ("sent", "not_needed", None, "unavailable")
    assert (net, pct) == (Decimal("94050.00"), Decimal("5.00"))  # (20 x 4,500 + 20 x 450) SAR, -5 %
    reason = one(business_db, "SELECT context->>'reason' FROM proposals WHERE workflow_id = %s", wf)
    assert reason.startswith("knowledge_store_unavailable: ") and "no pgvector extension" in reason
    assert effect_counts(sandbox) == {
        ("llm", "completion"): 1,
        ("docstore", "put_object"): 1,
        ("email", "send"): 1,
    }
    (notice,) = [e["payload"] for e in sandbox.effects(system="email")]
    assert "drafted from the deal alone: knowledge_store_unavailable" in notice["body"]


@pytest.mark.parametrize("ending", ["rejected", "expired"])
def test_a_discount_not_approved_ends_without_a_proposal(
    dag: Any,
    compensation_dag: Any,
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],
    ending: str,
) -> None:
    answer = (
        Approve("discount_approval", DESK, option="Reject", comment="too deep for a first year")
        if ending == "rejected"
        else Expire("discount_approval")
    )
    dr, wf = run(dag, [answer], requested_discount_pct=25, approval_timeout_hours=0.0005)

    assert dr.state == "failed"
    states = task_states(dr)
    assert states["discount_approval_not_approved"] == "failed" and states["render_pdf"] == "skipped"
    status, approval, *_ = proposal(business_db, wf)
    assert (status, approval) == (ending, ending)
    reason = (
        "rejected at discount_approval by deal_desk: too deep for a first year"
        if ending == "rejected"
        else "expired at discount_approval by nobody (timed out)"
    )
    assert workflow_status(wf) == (ending, reason)
    assert sandbox.effects(system="docstore") == []
    (notice,) = [
        e["payload"] for e in sandbox.effects(system="email") if e["payload"]["to"].endswith("@crm.example")
    ]
    assert notice["subject"].startswith(
        f"Proposal discount {'rejected' if ending == 'rejected' else 'not decided'}"
    )

    # Compensation as the ending asked for it: nothing was recorded to undo; a second run changes nothing.
    effects = sandbox.effects()
    for _ in range(2):
        assert compensate_as_asked(compensation_dag, requested, wf).state == "success"
        assert workflow_status(wf) == ("compensated", reason)
        assert sandbox.effects() == effects


def test_a_product_list_the_rules_refuse_is_refused_before_anything_happens(
    dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    items = [{"sku": "EP-PLATFORM", "quantity": 10}, {"sku": "EP-ANALYTICS", "quantity": 12}]
    dr, wf = run(dag, [], items=items)

    assert dr.state == "failed"
    assert task_states(dr)["deal_data"] == "failed"
    assert workflow_status(wf) is None and requested == []
    assert rows(business_db, "SELECT count(*) FROM proposals WHERE workflow_id = %s", wf) == [(0,)]
    assert sandbox.effects() == []
    # Why (the field at fault), and the other refusals of deal_data: test_steps.py.
