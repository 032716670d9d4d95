"""A deal as contradiction_scan finds it: a workflow of the deal (its business row in ``deals``) that stored
the deal's documents through the toolkit (the ledger's documents, the bytes in the sandbox's document
store), and the deal's record in the sandbox's CRM. Needs the sandbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

OWNER = "layla.haddad@crm.example"


@dataclass(frozen=True)
class SeededDeal:
    deal_id: str
    workflow_id: str
    run_id: str

    def store(self, step: str, kind: str, text: str | bytes) -> str:
        """One more document of the deal (a revision: the newest of its kind is the one compared)."""
        from execution_plane.saga.steps import Saga

        data = text.encode() if isinstance(text, str) else text
        dag_id, _, request_id = self.workflow_id.partition(":")
        with Saga(
            workflow_id=self.workflow_id, dag_id=dag_id, run_id=self.run_id, business_key=request_id
        ) as saga:
            return str(saga.store_document(step, kind=kind, data=data, compensation=False)["sha256"])


def add_records(
    seeded: SeededDeal, *, signed_terms: dict[str, Any], target: str = "Najd Logistics Company"
) -> None:
    """The deal's business records, as signature_commitment and dd_room write them: the terms it sent for
    signature (signed), a DD room with two findings, its valuation impact and IC recommendation."""
    import hashlib
    import json

    from execution_plane.saga.steps import Saga

    dag_id, _, request_id = seeded.workflow_id.partition(":")
    terms = json.dumps(signed_terms)

    def write(cur: Any) -> dict[str, Any]:
        wf, deal = seeded.workflow_id, seeded.deal_id
        cur.execute(
            "INSERT INTO signature_requests (workflow_id, deal_id, envelope_id, terms, terms_sha256,"
            " approved_by, signer_email, status) VALUES (%s, %s, 'env-1', %s::jsonb, %s, 'deal_desk',"
            " 'cfo@najd.example', 'signed')",
            (wf, deal, terms, hashlib.sha256(terms.encode()).hexdigest()),
        )
        cur.execute(
            "INSERT INTO dd_rooms (workflow_id, deal_id, target_company, base_valuation_usd, status,"
            " recommendation) VALUES (%s, %s, %s, 12500000, 'closing', 'proceed_with_conditions')",
            (wf, deal, target),
        )
        cur.execute(
            "INSERT INTO valuation_impacts (workflow_id, base_valuation_usd, adjusted_valuation_usd,"
            " total_adjustment_pct, per_workstream_pct, explanation) VALUES (%s, 12500000, 10500000, -16,"
            " '{}'::jsonb, 'end-of-service liability')",
            (wf,),
        )
        for code, workstream, title, evidence in [
            ("FIN-01", "financial", "Unrecorded end-of-service liability", "USD 2,000,000 not provided for"),
            ("LEG-01", "legal", "Change-of-control clauses", "two distribution contracts in the GCC"),
        ]:
            cur.execute(
                "INSERT INTO dd_findings (workflow_id, workstream, code, title, severity, likelihood,"
                " evidence, valuation_impact_pct) VALUES (%s, %s, %s, %s, 4, 3, %s, -8)",
                (wf, workstream, code, title, evidence),
            )
        return {"deal_id": deal}

    with Saga(
        workflow_id=seeded.workflow_id, dag_id=dag_id, run_id=seeded.run_id, business_key=request_id
    ) as saga:
        saga.db_write("records", write, request={"terms": signed_terms})


def seed_deal(
    documents: dict[str, str | bytes], crm_fields: dict[str, Any], *, owner: str | None = OWNER
) -> SeededDeal:
    """``documents``: the ledger kind each is stored under (term_sheet, signature_terms, ...) -> its text."""
    from execution_plane.hooks.crm import CrmHook
    from execution_plane.saga import keys
    from execution_plane.saga.steps import Saga

    tag = uuid.uuid4().hex[:8]
    deal_id, request_id = f"D-cs-{tag}", f"cs-{tag}"
    workflow_id = keys.workflow_id("seeded_deal_flow", request_id)
    seeded = SeededDeal(deal_id, workflow_id, f"seed__{request_id}")
    with Saga(
        workflow_id=workflow_id, dag_id="seeded_deal_flow", run_id=seeded.run_id, business_key=request_id
    ) as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "INSERT INTO deals (deal_id, status, workflow_id) VALUES (%s, 'open', %s)",
                (deal_id, workflow_id),
            )
            return {"deal_id": deal_id}

        saga.db_write("record", write, request={"deal_id": deal_id})
    for kind, text in documents.items():
        # Each deal's documents carry its reference (on their last line): the cache is shared by every scan
        # and the ledger keeps the same bytes once (under the first workflow that stored them).
        data = (
            text + f"\n% {deal_id}\n".encode() if isinstance(text, bytes) else f"{text}Reference: {deal_id}\n"
        )
        seeded.store(f"doc.{kind}", kind, data)
    crm = CrmHook()
    try:
        crm.update_deal(
            deal_id, status="open", fields={**crm_fields, "owner_email": owner}, idempotency_key=f"seed-{tag}"
        )
    finally:
        crm.close()
    return seeded


def conflicted_deal() -> SeededDeal:
    from tests.dags.workflows.contradiction_scan.deal_documents import (
        CRM_FIELDS,
        DD_FINDINGS,
        IC_MEMO,
        SIGNED_TERMS_AR,
        TERM_SHEET,
    )

    return seed_deal(
        {
            "term_sheet": TERM_SHEET,
            "signature_terms": SIGNED_TERMS_AR,
            "dd_findings": DD_FINDINGS,
            "ic_memo": IC_MEMO,
        },
        CRM_FIELDS,
    )
