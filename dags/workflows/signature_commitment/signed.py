"""After the signature: the pivot of the saga. The contract binds, so these steps only move forward (more
retries, no undo of their own); should compensation still run, the undos find the envelope signed and keep
it, and no "void" notice goes out."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from execution_plane.durable import Run, routed_step, step
from workflows.signature_commitment.common import when

log = logging.getLogger(__name__)

# After the signature the contract binds: move forward through longer outages instead of failing.
FORWARD_ONLY: dict[str, Any] = {"retries": 12, "max_retry_delay": timedelta(hours=1)}


@routed_step
def route_signature(run: Run, outcome: dict[str, Any]) -> dict[str, Any]:
    """Signed -> ``signed``; declined, expired at the provider, or not signed in time -> the bad ending."""
    if outcome.get("status") == "received" and outcome["event"]["event_type"] == "envelope.signed":
        return {"next": "signed"}
    return {"next": "signature_not_obtained"}


# ----------------------------------------------------------------------------- signed (the pivot)
@step(**FORWARD_ONLY)
def signed(run: Run, outcome: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    event = outcome["event"]
    signed_at = (event.get("payload") or {}).get("occurred_at") or event["received_at"]
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE signature_requests SET status = 'signed', updated_at = now()"
                " WHERE workflow_id = %s AND status = 'sent'",
                (saga.workflow_id,),
            )
            return {"envelope_id": sent["envelope_id"], "event_id": event["event_id"], "signed_at": signed_at}

        return saga.db_write("signed", write, request={"event_id": event["event_id"]})


# ----------------------------------------------------------------------------- record in CRM
@step(**FORWARD_ONLY)
def record_in_crm(run: Run, approval: dict[str, Any], signature: dict[str, Any]) -> dict[str, Any]:
    from execution_plane.hooks.crm import CrmHook

    params = run.params
    with run.saga as saga, CrmHook() as crm:
        return saga.call(
            "crm.deal_signed",
            side_effect="crm.update_deal",
            request={"status": "signed"},
            call=lambda key: crm.update_deal(
                params["deal_id"],
                status="signed",
                idempotency_key=key,
                fields={
                    "partner_id": params["partner_id"],
                    "envelope_id": signature["envelope_id"],
                    "signed_at": signature["signed_at"],
                    "terms_sha256": approval["terms_sha256"],
                    "workflow_id": saga.workflow_id,
                },
            ),
        )


# ----------------------------------------------------------------------------- notify parties
@step(**FORWARD_ONLY)
def notify_parties(
    run: Run, approval: dict[str, Any], sent: dict[str, Any], signature: dict[str, Any]
) -> dict[str, Any]:
    from workflows.signature_commitment.domain import signed_notice

    params = run.params
    message = signed_notice(
        params["deal_id"],
        params["signer_name"],
        envelope_id=signature["envelope_id"],
        signed_at=when(signature["signed_at"]),
        terms_sha256=approval["terms_sha256"],
    )
    with run.saga as saga:
        return {
            party: saga.send_message(
                f"signed_notice.{party}",
                channel="email",
                to=to,
                template="signed_notice",
                subject=message.subject,
                body=message.body,
            )["message_id"]
            for party, to in (("signer", params["signer_email"]), ("deal_team", sent["deal_team_email"]))
        }


# ----------------------------------------------------------------------------- update deal status
@step(**FORWARD_ONLY)
def update_deal_status(run: Run) -> dict[str, Any]:
    deal_id = run.params["deal_id"]
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "INSERT INTO deals (deal_id, status, workflow_id) VALUES (%s, 'signed', %s)"
                " ON CONFLICT (deal_id) DO UPDATE SET status = 'signed', status_reason = NULL,"
                " workflow_id = EXCLUDED.workflow_id, updated_at = now()",
                (deal_id, saga.workflow_id),
            )
            return {"deal_id": deal_id, "status": "signed"}

        return saga.db_write("deal_status.signed", write, request={"deal_id": deal_id})


# ----------------------------------------------------------------------------- evidence pack assembly
@step(**FORWARD_ONLY)
def assemble_evidence_pack(run: Run, approval: dict[str, Any]) -> dict[str, Any]:
    """Seal the commitment: the documents, decisions and events of this deal's signature request.

    Everything recorded up to the deal status update goes in (a retry collects the same items and seals
    the same manifest): the terms PDF, every ledger step with its stored result (envelope, CRM record,
    notices), the approval token, approval-bridge decisions and audit rows, and the eSign events. The
    pack's scope is stored with it, so it can be collected again and compared (include.domain.evidence,
    the code the evidence_pack workflow and compliance_scan's rebuild use too).
    """
    import json

    from execution_plane.saga import records
    from include.domain.evidence import digest, evidence_pack_pdf, pack_from_records

    deal_id = run.params["deal_id"]
    with run.saga as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            scope = _evidence_scope(cur, saga.workflow_id, deal_id, approval)
            found = records.records_as_of(cur, scope.workflow_ids, **scope.query(), digest=digest)
        pack = pack_from_records(scope, found)
        doc = saga.store_document(
            "evidence_pack.pdf", kind="evidence_pack", data=evidence_pack_pdf(pack), compensation=False
        )

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "INSERT INTO evidence_packs (workflow_id, deal_id, manifest, manifest_sha256,"
                " document_sha256, scope) VALUES (%s, %s, %s::jsonb, %s, %s, %s::jsonb)"
                " ON CONFLICT (workflow_id) DO NOTHING",
                (
                    saga.workflow_id,
                    deal_id,
                    json.dumps(pack.manifest),
                    pack.manifest_sha256,
                    doc["sha256"],
                    json.dumps(scope.as_json()),
                ),
            )
            return {
                "manifest_sha256": pack.manifest_sha256,
                "document_sha256": doc["sha256"],
                "item_count": len(pack.items),
            }

        sealed = saga.db_write(
            "evidence_pack.record", write, request={"manifest_sha256": pack.manifest_sha256}
        )
    log.info(
        "evidence pack of %s sealed: %s items, manifest sha256 %s",
        saga.workflow_id,
        sealed["item_count"],
        sealed["manifest_sha256"],
    )
    return sealed


def _evidence_scope(cur: Any, wf: str, deal_id: str, approval: dict[str, Any]) -> Any:
    """The approval token, then every record of the workflow up to its deal status update."""
    from datetime import UTC

    from execution_plane.saga import records
    from include.domain.evidence import EvidenceItem, EvidenceScope

    cutoff = records.step_done_at(cur, wf, "deal_status.signed")
    if cutoff is None:
        raise RuntimeError(f"{wf}: the deal status is not updated yet; the evidence pack comes after it")
    token = EvidenceItem(
        kind="approval_token",
        ref=f"approver:{approval['approver']}",
        sha256=approval["token_sha256"],
        at=datetime.fromtimestamp(int(approval["issued_at"]), UTC),
    )
    return EvidenceScope(
        subject=deal_id,
        workflow_ids=(wf,),
        until=cutoff,
        correlation_keys=(wf,),
        exclude_document_kinds=("evidence_pack",),
        extra_items=(token,),
    )
