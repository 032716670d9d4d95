"""
### Contradiction scan (medium-lived orchestrated, 5-30 min; LLM provider)

**Load** a deal's documents (`deal_id`): its record in the CRM (written out as a document, one
`Label: value` line per field) and the documents its workflows stored (every workflow a business table ties
to the deal; the ledger's documents through `saga.records`, their bytes from the document store): the
newest term sheet (`term_sheet`, `ma_offer_letter`), signed terms (`signature_terms`, `signed_terms`), DD
findings (`dd_findings`) and IC memo (`ic_memo`) of each workflow. Text documents are compared; a PDF or
other binary document is left out, with the reason, in the scan's record. The deal's business records are
written out as documents too: the terms `signature_commitment` sent or got signed, `ma_offer`'s newest live
offer version, each DD room's findings and its IC recommendation with the valuation.

-> **Compare** every pair, two ways: the **deterministic checks** (amounts, dates, parties, exclusivity and
territory read from English and Arabic text, Arabic digits included) and the **LLM** (the `llm_default`
connection, JSON mode, temperature 0), whose conflicts are kept only when both quotes are found in their
documents. A comparison is cached in `contradiction_comparisons` by the pair's content hashes, the model
and the rules' version: a **re-scan of unchanged documents reuses earlier comparisons** (the LLM is asked
only about pairs holding a changed document).

-> **Flag** the conflicts, each with both sides' document, line number and quote, in `contradiction_scans`
(one scan per deal and set of document contents) -> the deal's **owner** (the CRM's `owner_email`) told
once, in one email; a clean scan tells nobody. The same documents scanned again record nothing new and tell
nobody again.

**Endings**: bad input (a malformed `deal_id`, `document_kinds`, `max_documents`) or a deal with fewer than
two documents to compare fails the first task, naming the field, before anything is stored. An LLM that
keeps failing fails `compare_pairs` after its retries, naming the pair and the cause: nothing reported,
nobody told (the pairs it compared stay cached). **Start**: the trigger form or
`POST /api/v2/dags/contradiction_scan/dagRuns` with `{"logical_date": null, "conf": {"deal_id": "..."}}`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from execution_plane.defaults import default_args, tags_for

DEAL_ID = r"^(?!.*\.\.)[A-Za-z0-9._-]{1,64}$"
KINDS = ["term_sheet", "signed_terms", "dd_findings", "ic_memo", "crm_record"]


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    default_args=default_args(),
    tags=tags_for("contradiction_scan", "deals", "llm"),
    params={
        "deal_id": Param(
            type="string", pattern=DEAL_ID, description="the CRM deal whose documents to compare"
        ),
        "document_kinds": Param(
            KINDS,
            type="array",
            items={"type": "string", "enum": KINDS},
            minItems=2,
            uniqueItems=True,
            description="the kinds of document compared (default: all)",
        ),
        "max_documents": Param(
            12,
            type="integer",
            minimum=2,
            maximum=30,
            description="more documents than this fail the scan (pairs grow with its square)",
        ),
    },
)
def contradiction_scan() -> None:
    # ---------------------------------------------------------------- tasks
    @task
    def load_documents() -> dict[str, Any]:
        from workflows.contradiction_scan.documents import load_documents as load

        context = get_current_context()
        return load(dict(context["params"]), context["run_id"])

    @task(retries=2, retry_delay=timedelta(seconds=30))
    def compare_pairs(scan: dict[str, Any]) -> dict[str, Any]:
        from workflows.contradiction_scan.compare import compare_pairs as compare

        context = get_current_context()
        return compare(scan, last_try=context["ti"].try_number > context["task"].retries)

    @task
    def record_conflicts(scan: dict[str, Any], compared: dict[str, Any]) -> dict[str, Any]:
        from workflows.contradiction_scan.report import record_conflicts as record

        return record(scan, compared)

    @task
    def notify_owner(scan: dict[str, Any], recorded: dict[str, Any]) -> dict[str, Any]:
        from workflows.contradiction_scan.report import notify_owner as notify

        return notify(scan, recorded)

    # ---------------------------------------------------------------- calling tasks
    scan = load_documents()
    notify_owner(scan, record_conflicts(scan, compare_pairs(scan)))


contradiction_scan()
