"""lead_qualification through dag.test(): a batch enriched (cache, a rate limit waited out, a partial
company), scored, routed and handed over once; the same lead arriving again; a lead the CRM does not have
refused before anything happens; a CRM that refuses the hand-over (the run fails, nothing is undone).
Checked against the business tables, the ledger and the sandbox's effect log."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.workflow_runs import (
    ParamsRun,
    compensate,
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

DAG_ID = "lead_qualification"
CRM_AUTH = {"Authorization": "Bearer test"}
BUYING_NOTES = (
    "Budget: approved 150k USD.\nTimeline: this quarter.\nDecision maker: the CFO.\nNeed: partner onboarding."
)


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


def seed(sandbox: Any, lead_id: str, **fields: Any) -> str:
    sandbox.post("/crm/v1/leads", {"lead_id": lead_id, **fields}, headers=CRM_AUTH)
    return lead_id


def run(dag: Any, lead_ids: list[str], **params: Any) -> tuple[Any, str]:
    request_id = f"lq-{uuid.uuid4().hex[:10]}"
    dr = dag.test(
        run_conf={"request_id": request_id, "lead_ids": lead_ids, "rate_limit_wait_s": 10, **params}
    )
    return dr, f"{DAG_ID}:{request_id}"


def qualifications(db: Any, wf: str) -> dict[str, tuple[Any, ...]]:
    found = rows(
        db,
        "SELECT lead_id, status, band, owner_id, score_degraded, enrichment_missing,"
        " crm_updated_at IS NOT NULL, owner_notified_at IS NOT NULL FROM lead_qualifications"
        " WHERE workflow_id = %s",
        wf,
    )
    return {row[0]: row[1:] for row in found}


def test_a_batch_is_enriched_scored_routed_and_handed_over_once(
    dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    tag = uuid.uuid4().hex[:6]
    company = f"gulf-{tag}.example"
    hot = seed(
        sandbox,
        f"L-hot-{tag}",
        country="AE",
        company_domain=company,
        company_size=1500,
        industry="fintech",
        source="referral",
        budget_usd=150_000,
        engagement={"replies": 2, "meetings": 1},
        notes=BUYING_NOTES,
    )
    same = seed(
        sandbox,
        f"L-same-{tag}",
        country="AE",
        company_domain=company,
        company_size=1500,
        source="referral",
        budget_usd=150_000,
        engagement={"replies": 2, "meetings": 1},
        notes=BUYING_NOTES,
    )
    warm = seed(
        sandbox,
        f"L-warm-{tag}",
        country="ZA",
        company_domain=f"cape-{tag}.invalid",
        company_size=40,
        industry="software",
        source="inbound",
        budget_usd=30_000,
        engagement={"replies": 1},
        notes="Need: partner onboarding.\nTimeline: next quarter.",
    )
    cold = seed(
        sandbox,
        f"L-cold-{tag}",
        country="DE",
        company_domain=None,
        contact_email="max@gmail.com",
        source="outbound",
        budget_usd=None,
        engagement={},
        notes="Budget: none.\nTimeline: unclear.",
    )
    # The research API takes one request a second: the second company waits its turn.
    sandbox.post("/_sandbox/rate-limits", {"system": "research", "limit": 1, "window_s": 1})

    dr, wf = run(dag, [hot, warm, same, cold])

    assert dr.state == "success" and requested == []
    assert workflow_status(wf) == ("completed", None)
    found = qualifications(business_db, wf)
    assert {lead: row[:3] for lead, row in found.items()} == {
        hot: ("handed_over", "hot", "own-mea-ent"),
        same: ("handed_over", "hot", "own-mea-ent"),
        warm: ("handed_over", "warm", "own-overflow"),
        cold: ("handed_over", "cold", "own-nurture"),
    }
    assert all(row[5] and row[6] for row in found.values())  # CRM updated, owner told
    # Enrichment: the Gulf company asked once (the second lead read the cache), the unknown one partial with
    # its reasons, the free-mail lead without a company; the research API's limit waited out once.
    assert found[hot][4] == [] and found[same][4] == []
    assert found[warm][4] == [
        "research: company not known to the provider",
        "financials: no company id from research",
    ]
    assert found[cold][4] == ["research: no company domain (free-mail contact)"]
    from execution_plane.saga.steps import Saga

    with Saga.for_workflow(wf, actor="test") as saga:
        enriched = {
            lead: saga.stored_result(f"enrich.{lead}", {"domain": domain})
            for lead, domain in ((hot, company), (same, company), (warm, f"cape-{tag}.invalid"), (cold, None))
        }
    assert {lead: result["source"] for lead, result in enriched.items()} == {
        hot: "providers",
        same: "cache",
        warm: "providers",
        cold: "none",
    }
    assert sum(result["rate_limit_waits"] for result in enriched.values()) == 1
    # Scores stored by the lead scoring service, the same rows its route writes.
    assert one(business_db, "SELECT band FROM lead_scores WHERE lead_key = %s", hot) == "hot"

    # The CRM updated once per lead, each owner told once: the Gulf AE about both Gulf leads in one message.
    effects = sandbox.effects()
    updates = {
        e["resource_id"]: e["payload"]
        for e in effects
        if (e["system"], e["action"]) == ("crm", "update_lead")
    }
    assert set(updates) == {hot, same, warm, cold}
    assert {lead: (p["status"], p["owner_id"]) for lead, p in updates.items()} == {
        hot: ("qualified", "own-mea-ent"),
        same: ("qualified", "own-mea-ent"),
        warm: ("qualified", "own-overflow"),
        cold: ("nurture", "own-nurture"),
    }
    emails = [e["payload"] for e in effects if e["system"] == "email"]
    assert Counter(mail["to"] for mail in emails) == {
        "layla.haddad@sales.execution-plane.example": 1,
        "kara.hansen@sales.execution-plane.example": 1,
        "nurture@sales.execution-plane.example": 1,
    }
    gulf = next(mail for mail in emails if mail["to"].startswith("layla"))
    assert gulf["subject"] == "2 new leads for you" and hot in gulf["body"] and same in gulf["body"]
    assert Counter((e["system"], e["action"]) for e in effects if e["system"] not in ("llm",)) == {
        ("crm", "create_lead"): 4,
        ("crm", "update_lead"): 4,
        ("email", "send"): 3,
    }
    assert all(
        n == 1 for n in Counter(e["idempotency_key"] for e in effects if e["idempotency_key"]).values()
    )
    assert {step for step, _status, undo in ledger_steps(business_db, wf) if undo} == set()

    # The CRM sends lead.created for the Gulf lead again: it has an owner now, nothing happens twice.
    again, wf_again = run(dag, [hot])
    assert again.state == "success"
    assert rows(business_db, "SELECT count(*) FROM lead_qualifications WHERE workflow_id = %s", wf_again) == [
        (0,)
    ]
    assert sandbox.effects() == effects


def test_a_lead_the_crm_does_not_have_refuses_the_request(
    dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from execution_plane.durable import body_of
    from workflows.lead_qualification import capture

    tag = uuid.uuid4().hex[:6]
    known, gone = seed(sandbox, f"L-ok-{tag}"), seed(sandbox, f"L-gone-{tag}")
    httpx.delete(f"{sandbox.url}/crm/v1/leads/{gone}", headers=CRM_AUTH).raise_for_status()
    before = sandbox.effects()

    dr, wf = run(dag, [known, gone])

    assert dr.state == "failed"
    states = task_states(dr)
    assert states["check_leads"] == "failed" and states["capture"] == "upstream_failed"
    assert workflow_status(wf) is None and requested == []
    assert rows(business_db, "SELECT count(*) FROM lead_qualifications WHERE lead_id = %s", known) == [(0,)]
    assert sandbox.effects() == before
    # What the run's log says: the field at fault.
    with pytest.raises(AirflowFailException, match=rf"lead_ids\[1\]: lead 'L-gone-{tag}' is not in the CRM"):
        body_of(capture.check_leads)(ParamsRun({"lead_ids": [known, gone]}))


def test_a_crm_refusing_the_hand_over_fails_the_run_and_undoes_nothing(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    tag = uuid.uuid4().hex[:6]
    # Every field the score reads is given: a lead generated from its id alone can score cold (nurture).
    lead = seed(
        sandbox,
        f"L-refused-{tag}",
        country="US",
        company_domain=f"atlas-{tag}.example",
        company_size=1500,
        industry="fintech",
        source="referral",
        budget_usd=150_000,
        engagement={"replies": 2, "meetings": 1},
        notes=BUYING_NOTES,
    )
    sandbox.post(
        "/_sandbox/faults",
        {"system": "crm", "action": "update_lead", "mode": "error", "status": 503, "count": 50},
    )

    dr, wf = run(dag, [lead])

    assert dr.state == "failed"
    states = task_states(dr)
    assert states["hand_over"] == "failed" and states["complete"] == "upstream_failed"
    status, band, owner, *_ = qualifications(business_db, wf)[lead]
    assert (status, band, owner) == ("routed", "hot", "own-amer")
    assert sandbox.effects(system="crm", action="update_lead") == [] and sandbox.effects(system="email") == []

    # The failure callback asks for compensation; there is nothing to undo: the leads keep their routing.
    reason = "failed after retries: hand_over"
    source = f"on_failure_callback:{dr.run_id}"
    compensated = compensate(compensation_dag, wf, reason=reason, bad_ending="failed", source=source)
    assert compensated.state == "success" and workflow_status(wf) == ("compensated", reason)
    assert [undo for _step, _status, undo in ledger_steps(business_db, wf) if undo] == []
    assert qualifications(business_db, wf)[lead][0] == "routed"
    assert sandbox.effects(system="crm", action="update_lead") == []
