"""contradiction_scan's steps below the DAG, against the sandbox and the test business database: a deal's
documents loaded (the CRM record, the text documents its workflow stored, a PDF left out with the reason,
and its business records: signed terms, DD findings, IC recommendation), too few documents or a deal the
CRM does not have refused naming the field, each pair compared once and then read from the cache (the
LLM's calls counted in the sandbox's effect log), and an LLM that keeps failing ending the step with the
pair and the cause."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dags.workflows.contradiction_scan.deal_documents import TERM_SHEET
from tests.dags.workflows.contradiction_scan.seed import OWNER, add_records, conflicted_deal, seed_deal
from tests.support.workflow_runs import one

pytestmark = pytest.mark.timeout(120)


def llm_calls(sandbox: Any) -> int:
    return len(sandbox.effects(system="llm", action="completion"))


def load(deal_id: str, **params: Any) -> dict[str, Any]:
    from workflows.contradiction_scan.documents import load_documents

    return load_documents({"deal_id": deal_id, **params}, "manual__test")


def test_a_deals_text_documents_are_loaded_and_a_pdf_left_out(sandbox: Any) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    seeded = seed_deal(
        {
            "term_sheet": TERM_SHEET,
            "signature_terms": b"%PDF-1.7\n...",
            "evidence_pack": "not a deal document",
        },
        {"amount_usd": 12_500_000},
    )

    scan = load(seeded.deal_id)

    assert [d["kind"] for d in scan["documents"]] == ["crm_record", "term_sheet"]
    assert [s["reason"] for s in scan["skipped"]] == ["a PDF (the scan reads text documents)"]
    assert scan["owner_email"] == OWNER and scan["scan_id"].startswith(f"{seeded.deal_id}.")
    assert scan["workflow_id"] == f"contradiction_scan:{scan['scan_id']}"
    assert "Deal amount: USD 12,500,000" in scan["documents"][0]["text"]
    with pytest.raises(AirflowFailException, match=rf"^deal_id: deal {seeded.deal_id} has 1 document.*a PDF"):
        load(seeded.deal_id, document_kinds=["term_sheet", "signed_terms"])
    with pytest.raises(AirflowFailException, match=r"^bad input, nothing loaded or stored: max_documents: "):
        load(seeded.deal_id, max_documents=100)
    sandbox.post("/_sandbox/faults", {"system": "crm", "action": "get_deal", "status": 404})
    with pytest.raises(AirflowFailException, match=rf"^deal_id: the CRM has no deal {seeded.deal_id};"):
        load(seeded.deal_id)


def test_the_deals_business_records_are_documents_too(sandbox: Any) -> None:
    from workflows.contradiction_scan.domain import Document, compare_facts, document_facts

    seeded = seed_deal({"term_sheet": TERM_SHEET}, {"amount_usd": 12_500_000})
    add_records(seeded, signed_terms={"price_usd": 11_800_000, "closing_date": "2027-03-31"})

    scan = load(seeded.deal_id)

    by_kind = {d["kind"]: Document.model_validate(d) for d in scan["documents"]}
    assert set(by_kind) == {"crm_record", "term_sheet", "signed_terms", "dd_findings", "ic_memo"}
    assert by_kind["signed_terms"].title == f"Signed terms of {seeded.workflow_id}"
    assert by_kind["signed_terms"].source == f"table://signature_requests/{seeded.workflow_id}"
    assert (
        "FIN-01: Unrecorded end-of-service liability (financial, severity 4/5)" in by_kind["dd_findings"].text
    )
    assert "Adjusted valuation: USD 10,500,000" in by_kind["ic_memo"].text
    (price,) = compare_facts(
        document_facts(by_kind["term_sheet"].text), document_facts(by_kind["signed_terms"].text)
    )
    assert price.detail == "price: USD 12,500,000 in one, USD 11,800,000 in the other"


def test_each_pair_is_compared_once_then_reused_from_the_cache(sandbox: Any, business_db: Any) -> None:
    from workflows.contradiction_scan.compare import compare_pairs

    scan = load(conflicted_deal().deal_id)
    before = llm_calls(sandbox)

    first = compare_pairs(scan, last_try=False)

    assert (len(first["pairs"]), first["compared"], first["reused"]) == (10, 10, 0)
    assert llm_calls(sandbox) == before + 10
    again = compare_pairs(scan, last_try=False)
    assert (again["compared"], again["reused"]) == (0, 10) and llm_calls(sandbox) == before + 10
    assert [p["result"] for p in again["pairs"]] == [p["result"] for p in first["pairs"]]
    key = first["pairs"][0]["cache_key"]
    assert one(business_db, "SELECT reused FROM contradiction_comparisons WHERE cache_key = %s", key) == 1


def test_an_llm_that_keeps_failing_ends_the_step_naming_the_pair_and_the_cause(sandbox: Any) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from execution_plane.hooks.http import ProviderError
    from workflows.contradiction_scan.compare import compare_pairs

    scan = load(conflicted_deal().deal_id)
    sandbox.post("/_sandbox/faults", {"system": "llm", "action": "completion", "status": 503, "count": 2})

    with pytest.raises(ProviderError):  # tries left: Airflow tries again
        compare_pairs(scan, last_try=False)
    with pytest.raises(AirflowFailException) as ended:
        compare_pairs(scan, last_try=True)

    message = str(ended.value)
    assert message.startswith("the LLM could not compare ") and "HTTP 503" in message
    assert message.endswith(
        "0 of 10 pairs compared (kept in the cache for the next try); nothing reported, nobody told"
    )
