"""contradiction_scan through dag.test(): a deal whose documents disagree gets its conflicts flagged with
quotes and locations and its owner told once; the same documents scanned again ask the LLM nothing and tell
nobody again, a revised document asks it only about the pairs that hold it; a deal whose documents agree
tells nobody; an LLM that keeps failing ends the run with nothing reported; bad input and a deal with
nothing to compare store nothing. Checked against contradiction_scans, the ledger and the sandbox's effect
log (the LLM's calls, the emails)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dags.workflows.contradiction_scan.deal_documents import (
    CLEAN_CRM_FIELDS,
    CLEAN_SIGNED_TERMS,
    CLEAN_TERM_SHEET,
    SIGNED_TERMS_AR,
    TERM_SHEET,
)
from tests.dags.workflows.contradiction_scan.seed import OWNER, conflicted_deal, seed_deal
from tests.support.workflow_runs import dag_under_test, one, rows, task_states

pytestmark = pytest.mark.timeout(240)

DAG_ID = "contradiction_scan"
TASKS = {"load_documents", "compare_pairs", "record_conflicts", "notify_owner"}


@pytest.fixture(scope="module")
def dag() -> Iterator[Any]:
    with dag_under_test(DAG_ID) as dag:
        yield dag


def run(dag: Any, conf: dict[str, Any]) -> Any:
    started = time.monotonic()
    dr = dag.test(run_conf=conf)
    took = time.monotonic() - started
    print(f"\n[timing] dag.test {DAG_ID}: {took:.1f} s, {len(task_states(dr))} tasks, {dr.state}")
    return dr


def llm_calls(sandbox: Any) -> int:
    return len(sandbox.effects(system="llm", action="completion"))


def emails_to(sandbox: Any, to: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in sandbox.effects(system="email") if e["payload"]["to"] == to]


def xcom(dr: Any, task_id: str) -> Any:
    return dr.get_task_instance(task_id).xcom_pull(task_ids=task_id)


def scans_of(db: Any, deal_id: str) -> list[tuple[Any, ...]]:
    return rows(
        db,
        "SELECT workflow_id, status, conflict_count, pairs, conflicts, owner_email, notified_message_id"
        " FROM contradiction_scans WHERE deal_id = %s ORDER BY created_at",
        deal_id,
    )


def test_conflicts_are_flagged_the_owner_told_once_and_a_rescan_reuses_comparisons(
    dag: Any, sandbox: Any, business_db: Any
) -> None:
    seeded = conflicted_deal()
    calls = llm_calls(sandbox)

    dr = run(dag, {"deal_id": seeded.deal_id})

    assert dr.state == "success" and task_states(dr) == dict.fromkeys(TASKS, "success")
    assert llm_calls(sandbox) == calls + 10  # five documents: ten pairs, each asked once
    ((workflow_id, status, count, pairs, conflicts, owner, message_id),) = scans_of(
        business_db, seeded.deal_id
    )
    assert (status, count, pairs, owner) == ("conflicts", 11, 10, OWNER)
    found = {(c["topic"], frozenset(s["kind"] for s in c["sides"])): c for c in conflicts}
    ts, signed, memo, crm = "term_sheet", "signed_terms", "ic_memo", "crm_record"
    assert set(found) == {
        ("price", frozenset({ts, signed})),
        ("price", frozenset({signed, crm})),
        ("price", frozenset({signed, memo})),
        ("exclusivity", frozenset({ts, signed})),
        ("territory", frozenset({ts, signed})),
        ("territory", frozenset({signed, crm})),
        ("territory", frozenset({signed, memo})),
        ("closing_date", frozenset({ts, crm})),
        ("closing_date", frozenset({signed, crm})),
        ("closing_date", frozenset({memo, crm})),
        ("governing law", frozenset({ts, crm})),  # the model's alone: no rule reads governing law
    }
    law = found[("governing law", frozenset({ts, crm}))]
    assert law["found_by"] == ["model"]
    assert {(s["kind"], s["line"], s["quote"]) for s in law["sides"]} == {
        (ts, 11, "Governing law: the laws of the Dubai International Financial Centre"),
        (crm, 9, "Governing law: English law"),
    }
    price = found[("price", frozenset({ts, signed}))]
    assert {(s["kind"], s["line"], s["quote"]) for s in price["sides"]} == {
        (ts, 6, "Purchase price: USD 12,500,000 on a cash-free, debt-free basis"),
        (signed, 3, SIGNED_TERMS_AR.splitlines()[2]),
    }
    assert found[("closing_date", frozenset({ts, crm}))]["found_by"] == ["rules", "model"]
    (mail,) = emails_to(sandbox, OWNER)
    assert mail["subject"] == f"Deal {seeded.deal_id}: 11 contradictions between its documents"
    assert 'line 6: "Purchase price: USD 12,500,000 on a cash-free, debt-free basis"' in mail["body"]
    assert (
        one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", workflow_id)
        == "completed"
    )
    assert message_id is not None

    # The same documents again: every comparison reused, nothing recorded or told again.
    again = run(dag, {"deal_id": seeded.deal_id})

    assert again.state == "success" and xcom(again, "compare_pairs")["reused"] == 10
    assert llm_calls(sandbox) == calls + 10 and len(emails_to(sandbox, OWNER)) == 1
    assert xcom(again, "notify_owner") == {"status": "conflicts", "told": None, "reported_before": True}
    assert len(scans_of(business_db, seeded.deal_id)) == 1

    # A revised term sheet: only the four pairs that hold it go to the LLM; a new scan, told once.
    seeded.store(
        "doc.term_sheet.r2",
        "term_sheet",
        TERM_SHEET.replace("60 days", "90 days") + f"Reference: {seeded.deal_id}\n",
    )

    revised = run(dag, {"deal_id": seeded.deal_id})

    assert revised.state == "success"
    compared = xcom(revised, "compare_pairs")
    assert (compared["compared"], compared["reused"]) == (4, 6) and llm_calls(sandbox) == calls + 14
    scans = scans_of(business_db, seeded.deal_id)
    assert len(scans) == 2 and scans[1][2] == 10  # the exclusivity conflict is gone
    assert len(emails_to(sandbox, OWNER)) == 2


def test_a_deal_whose_documents_agree_tells_nobody(dag: Any, sandbox: Any, business_db: Any) -> None:
    seeded = seed_deal({"term_sheet": CLEAN_TERM_SHEET, "signed_terms": CLEAN_SIGNED_TERMS}, CLEAN_CRM_FIELDS)

    dr = run(dag, {"deal_id": seeded.deal_id})

    assert dr.state == "success"
    ((workflow_id, status, count, pairs, conflicts, _, message_id),) = scans_of(business_db, seeded.deal_id)
    assert (status, count, pairs, conflicts, message_id) == ("clean", 0, 3, [], None)
    assert emails_to(sandbox, OWNER) == []
    assert (
        one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", workflow_id)
        == "completed"
    )


def test_an_llm_that_keeps_failing_ends_the_run_with_nothing_reported(
    dag: Any, sandbox: Any, business_db: Any
) -> None:
    seeded = conflicted_deal()
    sandbox.post("/_sandbox/faults", {"system": "llm", "action": "completion", "status": 503, "count": 50})

    dr = run(dag, {"deal_id": seeded.deal_id})

    assert dr.state == "failed"
    assert task_states(dr) == {
        "load_documents": "success",
        "compare_pairs": "failed",
        "record_conflicts": "upstream_failed",
        "notify_owner": "upstream_failed",
    }
    assert dr.get_task_instance("compare_pairs").try_number == 3  # its retries, then the clear ending
    assert scans_of(business_db, seeded.deal_id) == [] and emails_to(sandbox, OWNER) == []
    assert (
        rows(business_db, "SELECT 1 FROM saga_workflows WHERE business_key LIKE %s", f"{seeded.deal_id}.%")
        == []
    )


def test_bad_input_and_a_deal_with_nothing_to_compare_store_nothing(
    dag: Any, sandbox: Any, business_db: Any
) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="deal_id"):
        dag.test(run_conf={"deal_id": "D..1"})
    nobody = f"D-cs-none-{uuid.uuid4().hex[:8]}"

    dr = run(dag, {"deal_id": nobody})

    assert dr.state == "failed" and task_states(dr)["load_documents"] == "failed"
    assert scans_of(business_db, nobody) == [] and llm_calls(sandbox) == 0
    assert rows(business_db, "SELECT 1 FROM saga_workflows WHERE business_key LIKE %s", f"{nobody}.%") == []
