"""Loading a deal's documents: the CRM's deal record; the documents the deal's workflows stored (the
ledger's ``documents`` through ``saga.records``, their bytes from the document store), the newest of each
kind per workflow; and the deal's business records that hold terms and findings (signature_commitment's
terms, ma_offer's offer versions, dd_room's findings and IC recommendation), written out as documents. Bad
input and a deal with nothing to compare end the run here, before anything is stored."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

DAG_ID = "contradiction_scan"


def fail(message: str) -> Exception:
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(message)


def load_documents(params: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The scan: its id (the deal and its documents' contents), the owner to tell, the model that compares,
    and the documents with their text (and the ones left out, with the reason)."""
    from execution_plane.hooks.crm import CrmHook
    from execution_plane.hooks.http import ProviderError
    from execution_plane.hooks.llm import LlmHook
    from execution_plane.saga import keys
    from workflows.contradiction_scan.domain import (
        RULES_VERSION,
        ScanError,
        crm_document,
        fingerprint,
        parse_request,
        scan_id,
    )

    try:
        request = parse_request(params)
    except ScanError as exc:
        raise fail(f"bad input, nothing loaded or stored: {exc}") from None
    deal_id = request.deal_id
    with CrmHook() as crm, LlmHook() as llm:
        try:
            record = crm.get_deal(deal_id)
            model = llm.model()
        except ProviderError as exc:
            if exc.status != 404:
                raise
            raise fail(f"deal_id: the CRM has no deal {deal_id}; nothing loaded or stored") from None
    documents, skipped = _stored_documents(deal_id, request.document_kinds)
    if "crm_record" in request.document_kinds:
        documents.insert(0, crm_document(deal_id, record))
    if len({d.sha256 for d in documents}) < 2:
        found = ", ".join(f"{s['title']}: {s['reason']}" for s in skipped) or "none"
        raise fail(
            f"deal_id: deal {deal_id} has {len(documents)} document(s) of the kinds "
            f"{', '.join(request.document_kinds)} to compare, at least 2 are needed (left out: {found}); "
            "nothing stored"
        )
    if len(documents) > request.max_documents:
        raise fail(
            f"max_documents: deal {deal_id} has {len(documents)} documents to compare, more than "
            f"{request.max_documents}: raise max_documents or narrow document_kinds; nothing stored"
        )
    contents = fingerprint(documents, model, RULES_VERSION)
    scan = scan_id(deal_id, contents)
    log.info(
        "deal %s: %s documents (%s), %s left out; scan %s",
        deal_id,
        len(documents),
        ", ".join(d.doc_id for d in documents),
        len(skipped),
        scan,
    )
    return {
        "deal_id": deal_id,
        "scan_id": scan,
        "workflow_id": keys.workflow_id(DAG_ID, scan),
        "run_id": run_id,
        "fingerprint": contents,
        "model": model,
        "rules_version": RULES_VERSION,
        "owner_email": record.get("owner_email") or None,
        "documents": [d.model_dump() for d in documents],
        "skipped": skipped,
    }


def _stored_documents(deal_id: str, kinds: Sequence[str]) -> tuple[list[Any], list[dict[str, Any]]]:
    """The newest document of each wanted kind per workflow of the deal, read as text."""
    from execution_plane.hooks.docstore import DocstoreHook
    from execution_plane.saga import records
    from execution_plane.saga.db import connect
    from workflows.contradiction_scan.domain import LEDGER_KINDS, text_document

    conn = connect(application_name=DAG_ID)
    try:
        conn.set_session(readonly=True)
        with conn, conn.cursor() as cur:
            workflows = _deal_workflows(cur, deal_id)
            records_read = _table_documents(cur, deal_id, kinds)
            newest: dict[tuple[str, str], Any] = {}
            for workflow_id in workflows:
                for doc in records.workflow_documents(cur, workflow_id):
                    scan_kind = LEDGER_KINDS.get(doc.kind)
                    if scan_kind is not None and scan_kind in kinds:
                        newest[(workflow_id, scan_kind)] = doc  # ordered by creation: the last is newest
    finally:
        conn.close()
    documents, skipped = list(records_read), []
    with DocstoreHook() as hook:
        for (workflow_id, _), doc in sorted(newest.items()):
            title = f"{_title(doc.kind)} of {workflow_id}"
            read = text_document(kind=doc.kind, title=title, source=doc.uri, data=hook.get_object(doc.sha256))
            if isinstance(read, str):
                skipped.append({"title": title, "sha256": doc.sha256, "reason": read})
            else:
                documents.append(read)
    return documents, skipped


def _table_documents(cur: Any, deal_id: str, kinds: Sequence[str]) -> list[Any]:
    """The deal's business records written out as documents: the terms signature_commitment sent for
    signature (approved, sent or signed; not the voided, declined or expired ones), the newest live version of
    each ma_offer's terms, each DD room's findings, and its IC recommendation with the valuation."""
    from workflows.contradiction_scan.domain import record_document

    found = []
    if "signed_terms" in kinds:
        cur.execute(
            "SELECT workflow_id, status, terms FROM signature_requests WHERE deal_id = %s"
            " AND status IN ('approved', 'sent', 'signed') ORDER BY workflow_id",
            (deal_id,),
        )
        for workflow_id, status, terms in cur.fetchall():
            what = "Signed terms" if status == "signed" else f"Terms sent for signature ({status})"
            found.append(
                record_document(
                    kind="signed_terms",
                    title=f"{what} of {workflow_id}",
                    source=f"table://signature_requests/{workflow_id}",
                    fields=dict(terms),
                )
            )
    if "term_sheet" in kinds:
        cur.execute(
            "SELECT DISTINCT ON (v.workflow_id) v.workflow_id, v.version, v.status, v.terms"
            " FROM ma_offer_versions v JOIN ma_offers o ON o.workflow_id = v.workflow_id"
            " WHERE o.deal_id = %s AND v.status NOT IN ('superseded', 'withdrawn')"
            " ORDER BY v.workflow_id, v.version DESC",
            (deal_id,),
        )
        for workflow_id, version, status, terms in cur.fetchall():
            found.append(
                record_document(
                    kind="term_sheet",
                    title=f"Offer terms v{version} ({status}) of {workflow_id}",
                    source=f"table://ma_offer_versions/{workflow_id}/{version}",
                    fields=dict(terms),
                )
            )
    if "dd_findings" in kinds or "ic_memo" in kinds:
        cur.execute(
            "SELECT r.workflow_id, r.target_company, r.base_valuation_usd, r.recommendation,"
            " v.adjusted_valuation_usd FROM dd_rooms r LEFT JOIN valuation_impacts v"
            " ON v.workflow_id = r.workflow_id WHERE r.deal_id = %s ORDER BY r.workflow_id",
            (deal_id,),
        )
        rooms = cur.fetchall()
        for workflow_id, target, base, recommendation, adjusted in rooms:
            cur.execute(
                "SELECT code, workstream, severity, title, evidence FROM dd_findings WHERE workflow_id = %s"
                " ORDER BY code",
                (workflow_id,),
            )
            findings = {
                code: f"{title} ({workstream}, severity {severity}/5): {evidence}"
                for code, workstream, severity, title, evidence in cur.fetchall()
            }
            if "dd_findings" in kinds and findings:
                found.append(
                    record_document(
                        kind="dd_findings",
                        title=f"DD findings on {target} of {workflow_id}",
                        source=f"table://dd_findings/{workflow_id}",
                        fields=findings,
                    )
                )
            if "ic_memo" in kinds and recommendation:
                found.append(
                    record_document(
                        kind="ic_memo",
                        title=f"IC recommendation on {target} of {workflow_id}",
                        source=f"table://dd_rooms/{workflow_id}",
                        fields={
                            "target_company": target,
                            "recommendation": recommendation,
                            "base_valuation_usd": base,
                            "adjusted_valuation_usd": adjusted,
                        },
                    )
                )
    return found


def _title(ledger_kind: str) -> str:
    from workflows.contradiction_scan.domain import LEDGER_KINDS
    from workflows.contradiction_scan.domain.documents import KIND_TITLES

    return KIND_TITLES[LEDGER_KINDS[ledger_kind]]


def _deal_workflows(cur: Any, deal_id: str) -> list[str]:
    """Every workflow a business table ties to the deal (a table with a deal_id and a workflow_id column;
    the toolkit's tables have no deal_id)."""
    from psycopg2 import sql

    cur.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public'"
        " AND column_name IN ('deal_id', 'workflow_id') GROUP BY table_name"
        " HAVING count(DISTINCT column_name) = 2 ORDER BY table_name"
    )
    found: set[str] = set()
    for (table,) in cur.fetchall():
        if table.startswith("contradiction_"):
            continue  # the scans themselves are no document of the deal
        cur.execute(
            sql.SQL("SELECT DISTINCT workflow_id FROM {} WHERE deal_id = %s").format(sql.Identifier(table)),
            (deal_id,),
        )
        found.update(row[0] for row in cur.fetchall() if row[0])
    return sorted(found)
