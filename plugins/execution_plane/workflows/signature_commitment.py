"""Task-side steps of the signature_commitment workflow, each an idempotent saga step with its undo beside it.

The DAG file (dags/signature_commitment.py) wires these in the spec's order; business rules (approval
tokens, evidence packs, notices) live in include/domain/signature_commitment. The status-poll fallback
for a lost eSign webhook (dags/esign_status_poller.py) is ``poll_envelope_statuses`` at the end.

The signature is the pivot of this saga. Before it, every step has an undo (void the envelope, tell the
parties the request is void, close the records). After it the contract binds: the steps only move forward
(the DAG gives them more retries), and should compensation still run, the undos find the envelope signed
and keep it, and no "void" notice goes out.

Domain and hook imports are local to the functions: the DAG file imports this module while it is parsed.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from execution_plane.operators.approval import APPROVE, REJECT, ApprovalGateOperator
from execution_plane.saga.compensations import compensation

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)

DAG_ID = "signature_commitment"
TOKEN_TASK = "verify_approval_token"
TOKEN_STEP = "approval_token"
ENVELOPE_STEP = "signature_request.envelope"
APPROVAL_TOKEN_CONN_ID = "approval_token"
SIGNATURE_EVENTS = ("envelope.signed", "envelope.declined", "envelope.expired")
TERMINAL_ENVELOPE_STATUSES = ("signed", "declined", "expired")
CHOICE_STAGE = "renegotiate_choice"
RENEGOTIATE = "Re-negotiate"
CLOSE_DEAL = "Close deal"
CHOICE_ASSIGNEES = ["deal_desk", "admin"]
DEAL_DESK_EMAIL = "deal_desk@execution-plane.example"
# The approval bridge speaks Approve/Reject; the deal desk sees the two business options.
_AS_GATE = {RENEGOTIATE: APPROVE, CLOSE_DEAL: REJECT}
_AS_LABEL = {APPROVE: RENEGOTIATE, REJECT: CLOSE_DEAL}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _saga(context: Any, **kwargs: Any) -> Saga:
    # The saga's modules load when a step runs, not when the DAG file that imports this module is parsed.
    from execution_plane.saga.steps import Saga

    return Saga.from_context(context, **kwargs)


# ----------------------------------------------------------------------------- approval token obtained
def verify_approval_token(context: Any) -> dict[str, Any]:
    """Verify the token against these exact terms and this workflow, BEFORE anything is registered or sent.

    A forged, expired or mismatched token fails the run at once (no retry): no workflow is registered, so
    there is nothing to compensate (``compensate_on_failure`` knows). The refusal is kept in the audit log.
    A retry or re-run of a request whose token was accepted checks expiry at the first check's time: a
    token valid when the signature request went out stays valid for that request.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowFailException

    from execution_plane.saga.keys import workflow_id
    from execution_plane.saga.ledger import Compensation
    from include.domain.common import canonical_json, sha256_hex
    from include.domain.signature_commitment import InvalidApprovalToken, verify_token

    params = context["params"]
    wf = workflow_id(DAG_ID, str(params["request_id"]))
    terms_sha256 = sha256_hex(canonical_json(params["terms"]))
    request = {"terms_sha256": terms_sha256}
    recorded_terms, first_checked_at = _earlier_check(wf, request)
    secret = BaseHook.get_connection(APPROVAL_TOKEN_CONN_ID).password or ""
    try:
        if recorded_terms is not None and recorded_terms != terms_sha256:
            raise InvalidApprovalToken("terms_mismatch", f"request {wf} was already sent with other terms")
        checked_at = first_checked_at or int(time.time())
        claims = verify_token(
            secret, str(params["approval_token"]), workflow_key=wf, terms_sha256=terms_sha256, now=checked_at
        )
    except InvalidApprovalToken as exc:
        _audit(
            wf,
            "approval_token.refused",
            {
                "reason": exc.reason,
                "detail": exc.detail,
                "run_id": context["run_id"],
                "terms_sha256": terms_sha256,
            },
        )
        raise AirflowFailException(
            f"approval token refused ({exc.reason}{': ' + exc.detail if exc.detail else ''}): "
            "nothing was sent, nothing to compensate"
        ) from None

    with _saga(context) as saga:
        saga.register()

        def write(cur: Any) -> dict[str, Any]:
            import json

            cur.execute(
                "INSERT INTO signature_requests (workflow_id, deal_id, terms, terms_sha256, approved_by,"
                " signer_email, status) VALUES (%s, %s, %s::jsonb, %s, %s, %s, 'approved')"
                " ON CONFLICT (workflow_id) DO NOTHING",
                (
                    wf,
                    params["deal_id"],
                    json.dumps(params["terms"]),
                    terms_sha256,
                    claims.approver,
                    params["signer_email"],
                ),
            )
            return {
                "workflow_id": wf,
                "terms_sha256": terms_sha256,
                "approver": claims.approver,
                "issued_at": claims.issued_at,
                "expires_at": claims.expires_at,
                "token_sha256": _sha256(str(params["approval_token"])),
                "verified_at": checked_at,
            }

        approval = saga.db_write(
            TOKEN_STEP,
            write,
            request=request,
            compensation=Compensation("signature_commitment.close_request", {}),
        )
    log.info("approval token of %s accepted: approved by %s, terms %s", wf, claims.approver, terms_sha256)
    return approval


def _earlier_check(wf: str, request: dict[str, Any]) -> tuple[str | None, int | None]:
    """(terms the request was recorded with, time of the accepted check) from an earlier run, if any."""
    from execution_plane.saga.db import connect
    from execution_plane.saga.keys import request_hash, step_key

    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT terms_sha256 FROM signature_requests WHERE workflow_id = %s", (wf,))
            row = cur.fetchone()
            cur.execute(
                "SELECT (result->>'verified_at')::bigint FROM idempotency_keys"
                " WHERE key = %s AND status = 'done' AND request_hash = %s",
                (step_key(wf, TOKEN_STEP), request_hash(request)),
            )
            checked = cur.fetchone()
    finally:
        conn.close()
    return (row[0] if row else None), (int(checked[0]) if checked and checked[0] is not None else None)


def _audit(wf: str, action: str, details: dict[str, Any]) -> None:
    from execution_plane.saga import audit
    from execution_plane.saga.db import connect

    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            audit.append(cur, actor="approval_bridge", workflow_id=wf, action=action, details=details)
    finally:
        conn.close()


@compensation("signature_commitment.close_request")
def close_request(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """The request record ends voided, unless it already ended signed, declined or expired (kept as is)."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE signature_requests SET status = 'voided', updated_at = now()"
            " WHERE workflow_id = %s AND status IN ('approved', 'sent')",
            (saga.workflow_id,),
        )
        cur.execute("SELECT status FROM signature_requests WHERE workflow_id = %s", (saga.workflow_id,))
        row = cur.fetchone()
    return {"request_status": row[0] if row else None}


# ----------------------------------------------------------------------------- signature request sent
def _terms_pdf(params: dict[str, Any], approval: dict[str, Any]) -> bytes:
    from datetime import UTC

    from include.domain.documents import Section, Table, render_pdf

    approved_at = datetime.fromtimestamp(int(approval["issued_at"]), UTC)
    rows = [[str(name), str(value)] for name, value in sorted(params["terms"].items())]
    return render_pdf(
        f"Terms for signature: {params['deal_id']}",
        [
            Section(
                heading="Parties",
                paragraphs=[
                    f"Deal: {params['deal_id']}",
                    f"Partner: {params['partner_id']}",
                    f"Signer: {params['signer_name']} <{params['signer_email']}>",
                    f"Signature request: {approval['workflow_id']}",
                ],
            ),
            Section(heading="Terms", tables=[Table(header=["Term", "Value"], rows=rows, col_widths=[1, 2])]),
            Section(
                heading="Approval",
                paragraphs=[
                    f"Approved by {approval['approver']} at {approved_at:%Y-%m-%d %H:%M} UTC.",
                    f"Terms fingerprint (SHA-256 of the canonical terms JSON): {approval['terms_sha256']}",
                ],
            ),
        ],
        # Dated by the approval: a retry renders byte-identical bytes, stored once.
        metadata={
            "created_at": approved_at.isoformat(),
            "author": "Execution Plane",
            "subject": f"Terms of {params['deal_id']} for e-signature",
            "keywords": f"terms_sha256:{approval['terms_sha256']}",
        },
    )


def send_signature_request(context: Any, approval: dict[str, Any]) -> dict[str, Any]:
    """Store the terms PDF, create the eSign envelope, record the request as sent, tell the signer.

    The terms PDF has no undo: it is the record of what was offered, and voiding the envelope is what makes
    it unsignable. ``sign_by`` (the wait's deadline) is fixed once, when the request goes out.
    """
    from execution_plane.hooks.crm import CrmHook
    from execution_plane.hooks.esign import EsignHook
    from execution_plane.saga.ledger import Compensation

    params = context["params"]
    deal_id, signer_email, signer_name = params["deal_id"], params["signer_email"], params["signer_name"]
    with _saga(context) as saga:
        doc = saga.store_document(
            "terms_pdf", kind="signature_terms", data=_terms_pdf(params, approval), compensation=False
        )
        crm, esign = CrmHook(), EsignHook()
        try:
            deal_team_email = str(crm.get_deal(deal_id).get("owner_email") or DEAL_DESK_EMAIL)
            envelope = saga.call(
                ENVELOPE_STEP,
                side_effect="esign.create_envelope",
                request={"document_sha256": doc["sha256"], "signer": signer_email.strip().lower()},
                call=lambda key: esign.create_envelope(
                    document_sha256=doc["sha256"],
                    document_uri=doc["uri"],
                    subject=f"Please sign: terms of {deal_id} ({params['partner_id']})",
                    signers=[{"email": signer_email, "name": signer_name}],
                    correlation_key=saga.workflow_id,
                    idempotency_key=key,
                ),
                compensation=lambda r: Compensation(
                    "signature_commitment.void_envelope", {"envelope_id": r["envelope_id"]}
                ),
            )
        finally:
            crm.close()
            esign.close()
        envelope_id = str(envelope["envelope_id"])

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE signature_requests SET envelope_id = %s, status = 'sent', updated_at = now()"
                " WHERE workflow_id = %s AND status = 'approved'",
                (envelope_id, saga.workflow_id),
            )
            cur.execute(
                "INSERT INTO deals (deal_id, status, workflow_id) VALUES (%s, 'awaiting_signature', %s)"
                " ON CONFLICT (deal_id) DO UPDATE SET status = EXCLUDED.status, status_reason = NULL,"
                " workflow_id = EXCLUDED.workflow_id, updated_at = now()",
                (deal_id, saga.workflow_id),
            )
            cur.execute(
                "SELECT now() + make_interval(secs => %s)", (float(params["signature_timeout_hours"]) * 3600,)
            )
            return {"envelope_id": envelope_id, "sign_by": cur.fetchone()[0].isoformat()}

        sent = saga.db_write(
            "signature_request.record",
            write,
            request={"envelope_id": envelope_id},
            compensation=Compensation("signature_commitment.release_deal", {"deal_id": deal_id}),
        )
        sign_by = _when(sent["sign_by"])
        notice = saga.send_message(
            "signature_request.notice",
            channel="email",
            to=signer_email,
            template="signature_requested",
            subject=f"Signature requested: {deal_id}",
            body="\n".join(
                [
                    f"Dear {signer_name},",
                    f"The terms for {deal_id} were sent to you for e-signature (envelope {envelope_id}).",
                    f"Please sign by {sign_by:%Y-%m-%d %H:%M %Z}.",
                    f"Terms fingerprint (SHA-256): {approval['terms_sha256']}",
                ]
            ),
            compensation=Compensation(
                "signature_commitment.notify_void",
                {
                    "deal_id": deal_id,
                    "envelope_id": envelope_id,
                    "signer_email": signer_email,
                    "signer_name": signer_name,
                    "deal_team_email": deal_team_email,
                },
            ),
        )
    return {
        "envelope_id": envelope_id,
        "sign_by": sent["sign_by"],
        "document_sha256": doc["sha256"],
        "document_uri": doc["uri"],
        "deal_team_email": deal_team_email,
        "notice_message_id": notice["message_id"],
        "correlation_key": saga.workflow_id,
    }


@compensation("signature_commitment.release_deal")
def release_deal(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """A deal still awaiting this request's signature is no longer awaiting it (never a signed one)."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE deals SET status = 'signature_voided', status_reason = %s, updated_at = now()"
            " WHERE deal_id = %s AND workflow_id = %s AND status = 'awaiting_signature'"
            " AND NOT EXISTS (SELECT 1 FROM signature_requests"
            "                 WHERE workflow_id = %s AND status = 'signed')",
            (reason[:500], args["deal_id"], saga.workflow_id, saga.workflow_id),
        )
        released = bool(cur.rowcount)
    return {"deal_id": args["deal_id"], "released": released}


def _void(saga: Saga, envelope_id: str, reason: str, key: str) -> dict[str, Any]:
    """Void through the toolkit's undo; an envelope that can no longer be signed needs no void.

    The toolkit's ``esign.void_envelope`` fails on a declined or expired envelope (the provider answers 409
    ``envelope_not_voidable``), which would leave every declined request uncompensatable; a signed one is a
    binding contract and is kept.
    """
    from execution_plane.hooks.http import ProviderError
    from execution_plane.saga.compensations import void_envelope as toolkit_void

    try:
        return toolkit_void(saga, {"envelope_id": envelope_id}, reason, key)
    except ProviderError as exc:
        status = _not_voidable_status(exc)
        if status is None:
            raise
    if status == "signed":
        log.warning(
            "envelope %s of %s is signed: a binding contract, kept (not voided)",
            envelope_id,
            saga.workflow_id,
        )
        return {
            "envelope_id": envelope_id,
            "status": "signed",
            "voided": False,
            "kept": "signed envelopes are binding contracts",
        }
    return {
        "envelope_id": envelope_id,
        "status": status,
        "voided": False,
        "note": f"already {status}: it can no longer be signed",
    }


def _not_voidable_status(exc: Any) -> str | None:
    """The envelope's status when the provider refused to void it because it is signed/declined/expired."""
    import json

    try:
        body = json.loads(exc.body)
    except ValueError:
        return None
    if exc.status != 409 or not isinstance(body, dict) or body.get("error") != "envelope_not_voidable":
        return None
    status = body.get("status")
    return status if status in TERMINAL_ENVELOPE_STATUSES else None


@compensation("signature_commitment.void_envelope")
def void_envelope(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    return _void(saga, args["envelope_id"], reason, key)


@compensation("signature_commitment.notify_void")
def notify_void(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Tell the signer and the deal team the request is void, once the envelope is.

    The notice is newer than the envelope, so compensation (newest first) reaches it first: it voids the
    envelope itself with the key the envelope's own undo uses, which then replays at the provider (one
    void, and never a "void" notice for an envelope that could still be signed). A signed envelope gets no
    notice at all.
    """
    from execution_plane.hooks.esign import EsignHook
    from execution_plane.saga.compensations import notify
    from include.domain.signature_commitment import expired_notice, void_notice

    envelope_id = args["envelope_id"]
    voided = _void(saga, envelope_id, reason, saga.key("compensate", ENVELOPE_STEP))
    if voided.get("status") == "signed" or _request_status(saga) == "signed":
        return {"skipped": "the envelope is signed: nothing was withdrawn", "envelope_id": envelope_id}
    if voided.get("status") == "expired":
        hook = EsignHook()
        try:
            expired_at = hook.get_envelope(envelope_id).get("expired_at")
        finally:
            hook.close()
        message = expired_notice(
            args["deal_id"], args["signer_name"], envelope_id=envelope_id, expired_at=_when(expired_at)
        )
    else:
        message = void_notice(args["deal_id"], args["signer_name"], envelope_id=envelope_id, reason=reason)
    sent = {}
    for party, to in (("signer", args["signer_email"]), ("deal_team", args["deal_team_email"])):
        sent[party] = notify(
            saga,
            {
                "channel": "email",
                "to": to,
                "subject": message.subject,
                "body": message.body,
                "template": "signature_void",
            },
            reason,
            f"{key}:{party}",
        )["message_id"]
    return {"envelope_id": envelope_id, "notified": sent}


def _request_status(saga: Saga) -> str | None:
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM signature_requests WHERE workflow_id = %s", (saga.workflow_id,))
        row = cur.fetchone()
    return row[0] if row else None


# ----------------------------------------------------------------------------- wait for signature
def route_signature(outcome: dict[str, Any]) -> str:
    """Signed -> ``signed``; declined, expired at the provider, or not signed in time -> the bad ending."""
    if outcome.get("status") == "received" and outcome["event"]["event_type"] == "envelope.signed":
        return "signed"
    return "signature_not_obtained"


# ----------------------------------------------------------------------------- signed (the pivot)
def record_signature(context: Any, outcome: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    event = outcome["event"]
    signed_at = (event.get("payload") or {}).get("occurred_at") or event["received_at"]
    with _saga(context) as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE signature_requests SET status = 'signed', updated_at = now()"
                " WHERE workflow_id = %s AND status = 'sent'",
                (saga.workflow_id,),
            )
            return {"envelope_id": sent["envelope_id"], "event_id": event["event_id"], "signed_at": signed_at}

        return saga.db_write("signed", write, request={"event_id": event["event_id"]})


# ----------------------------------------------------------------------------- record in CRM
def record_in_crm(context: Any, approval: dict[str, Any], signature: dict[str, Any]) -> dict[str, Any]:
    from execution_plane.hooks.crm import CrmHook

    params = context["params"]
    with _saga(context) as saga:
        crm = CrmHook()
        try:
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
        finally:
            crm.close()


# ----------------------------------------------------------------------------- notify parties
def notify_parties(
    context: Any, approval: dict[str, Any], sent: dict[str, Any], signature: dict[str, Any]
) -> dict[str, Any]:
    from include.domain.signature_commitment import signed_notice

    params = context["params"]
    message = signed_notice(
        params["deal_id"],
        params["signer_name"],
        envelope_id=signature["envelope_id"],
        signed_at=_when(signature["signed_at"]),
        terms_sha256=approval["terms_sha256"],
    )
    with _saga(context) as saga:
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
def update_deal_status(context: Any) -> dict[str, Any]:
    deal_id = context["params"]["deal_id"]
    with _saga(context) as saga:

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
def assemble_evidence_pack(context: Any, approval: dict[str, Any]) -> dict[str, Any]:
    """Seal the commitment: the documents, decisions and events of this deal's signature request.

    Everything recorded up to the deal status update goes in (a retry collects the same items and seals
    the same manifest): the terms PDF, every ledger step with its stored result (envelope, CRM record,
    notices), the approval token, approval-bridge decisions and audit rows, and the eSign events.
    """
    import json

    from include.domain.signature_commitment import build_evidence_pack, evidence_pack_pdf

    deal_id = context["params"]["deal_id"]
    with _saga(context) as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            items = _evidence_items(cur, saga.workflow_id, approval)
        pack = build_evidence_pack(deal_id, items)
        doc = saga.store_document(
            "evidence_pack.pdf", kind="evidence_pack", data=evidence_pack_pdf(pack), compensation=False
        )

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "INSERT INTO evidence_packs (workflow_id, deal_id, manifest, manifest_sha256,"
                " document_sha256) VALUES (%s, %s, %s::jsonb, %s, %s) ON CONFLICT (workflow_id) DO NOTHING",
                (saga.workflow_id, deal_id, json.dumps(pack.manifest), pack.manifest_sha256, doc["sha256"]),
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


def _evidence_items(cur: Any, wf: str, approval: dict[str, Any]) -> list[Any]:
    from datetime import UTC

    from include.domain.common import canonical_json, sha256_hex
    from include.domain.signature_commitment import EvidenceItem

    cur.execute(
        "SELECT done_at FROM saga_steps WHERE workflow_id = %s AND step = 'deal_status.signed'", (wf,)
    )
    row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"{wf}: the deal status is not updated yet; the evidence pack comes after it")
    cutoff = row[0]
    items = [
        EvidenceItem(
            kind="approval_token",
            ref=f"approver:{approval['approver']}",
            sha256=approval["token_sha256"],
            at=datetime.fromtimestamp(int(approval["issued_at"]), UTC),
        )
    ]
    cur.execute(
        "SELECT kind, uri, sha256, created_at FROM documents WHERE workflow_id = %s"
        " AND kind <> 'evidence_pack' AND created_at <= %s",
        (wf, cutoff),
    )
    items += [EvidenceItem(kind=f"document:{kind}", ref=uri, sha256=sha, at=at) for kind, uri, sha, at in cur]
    cur.execute(
        "SELECT s.side_effect, s.step, k.result, s.done_at FROM saga_steps s"
        " JOIN idempotency_keys k ON k.key = s.idempotency_key WHERE s.workflow_id = %s AND s.done_at <= %s",
        (wf, cutoff),
    )
    items += [
        EvidenceItem(kind=f"step:{effect}", ref=step, sha256=sha256_hex(canonical_json(result)), at=at)
        for effect, step, result, at in cur
    ]
    cur.execute(
        "SELECT request_id, stage, status, decided_by, comment, coalesce(decided_at, created_at)"
        " FROM approval_requests WHERE workflow_id = %s AND created_at <= %s",
        (wf, cutoff),
    )
    items += [
        EvidenceItem(
            kind=f"decision:{stage}",
            ref=request_id,
            at=at,
            sha256=sha256_hex(canonical_json([request_id, status, by, comment])),
        )
        for request_id, stage, status, by, comment, at in cur
    ]
    cur.execute(
        "SELECT id, action, hash, at FROM audit_log WHERE workflow_id = %s AND at <= %s", (wf, cutoff)
    )
    items += [
        EvidenceItem(kind=f"audit:{action}", ref=f"audit_log:{row_id}", sha256=digest, at=at)
        for row_id, action, digest, at in cur
    ]
    cur.execute(
        "SELECT event_id, event_type, payload, received_at FROM external_events"
        " WHERE correlation_key = %s AND received_at <= %s",
        (wf, cutoff),
    )
    items += [
        EvidenceItem(
            kind=f"event:{event_type}", ref=event_id, sha256=sha256_hex(canonical_json(payload)), at=at
        )
        for event_id, event_type, payload, at in cur
    ]
    return items


# ----------------------------------------------------------------------------- expired / declined
def signature_not_obtained(context: Any, outcome: dict[str, Any], sent: dict[str, Any]) -> dict[str, str]:
    """Record the bad ending, ask the deal desk, and start compensation now (not after the choice).

    The void and the notices do not wait for a person: the envelope could otherwise still be signed while
    the deal desk thinks. The run itself ends failed with the reason after the choice (``end_unsigned``).
    """
    from execution_plane.saga.airflow_api import AirflowApi, start_compensation

    params = context["params"]
    envelope_id = sent["envelope_id"]
    if outcome.get("status") == "received":
        event_type = outcome["event"]["event_type"]
        declined = event_type == "envelope.declined"
        table_status = "declined" if declined else "expired"
        reason = (
            f"{params['signer_name']} declined to sign envelope {envelope_id}"
            if declined
            else f"envelope {envelope_id} expired unsigned at the eSign provider"
        )
        event_id = outcome["event"]["event_id"]
    else:
        declined, table_status, event_id = False, "expired", None
        reason = f"envelope {envelope_id} was not signed by {outcome.get('timeout_at') or sent['sign_by']}"
    bad_ending = "rejected" if declined else "expired"
    with _saga(context) as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE signature_requests SET status = %s, updated_at = now()"
                " WHERE workflow_id = %s AND status = 'sent'",
                (table_status, saga.workflow_id),
            )
            cur.execute(
                "UPDATE deals SET status = %s, status_reason = %s, updated_at = now()"
                " WHERE deal_id = %s AND workflow_id = %s",
                (f"signature_{table_status}", reason, params["deal_id"], saga.workflow_id),
            )
            return {"status": bad_ending, "request_status": table_status, "reason": reason}

        ended = saga.db_write(
            "signature.not_obtained", write, request={"event_id": event_id, "status": table_status}
        )
        saga.send_message(
            f"{CHOICE_STAGE}.requested",
            channel="email",
            to=DEAL_DESK_EMAIL,
            template=f"approval_request:{CHOICE_STAGE}",
            subject=f"Signature not obtained for {params['deal_id']}: re-negotiate or close the deal?",
            body=f"{ended['reason']}.\nThe envelope is being voided and the parties told. Choose "
            f"'{RENEGOTIATE}' or '{CLOSE_DEAL}' in Airflow (Required Actions, task {CHOICE_STAGE}).",
        )
        saga.end(ended["status"], ended["reason"])
        workflow_id = saga.workflow_id
    try:
        api = AirflowApi()
        start_compensation(
            workflow_id,
            reason=ended["reason"],
            bad_ending=ended["status"],
            source=str(context["run_id"]),
            api=api,
        )
        api.set_note(
            DAG_ID,
            context["run_id"],
            f"{ended['status'].upper()}: {ended['reason']} (awaiting the re-negotiate choice)",
        )
    except Exception:  # recorded already: the reconciler starts it within minutes
        log.exception("could not start compensation of %s now; the reconciler will", workflow_id)
    return {"status": ended["status"], "reason": ended["reason"]}


class RenegotiationChoiceOperator(ApprovalGateOperator):
    """The re-negotiate option as a person's choice: "Re-negotiate" or "Close deal".

    ApprovalGateOperator's approval-bridge record, early-answer guard and branching, with the options the
    deal desk sees: "Re-negotiate" routes as an approval, "Close deal" as a rejection, and no answer in time
    applies "Close deal" (recorded as expired). It never announces itself (``signature_not_obtained`` did,
    while the workflow could still send): the workflow has ended by the time it waits.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs["notify_channel"] = None
        super().__init__(**kwargs)
        self.options = [RENEGOTIATE, CLOSE_DEAL]
        self.defaults = [CLOSE_DEAL]
        self.validate_defaults()

    def validate_chosen_options(self, chosen_options: list[str]) -> None:
        super().validate_chosen_options([_AS_LABEL.get(option, option) for option in chosen_options])

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        chosen = [_AS_GATE.get(option, option) for option in event.get("chosen_options") or []]
        return super().execute_complete(context, {**event, "chosen_options": chosen})


def record_choice(context: Any, choice: str) -> dict[str, Any]:
    """Record the deal desk's answer: deals status, CRM deal status, audit.

    The workflow ended before the choice (compensation may be running), so these steps do not register it:
    they are the follow-up a person decided, recorded idempotently, with nothing to undo.
    """
    from execution_plane.hooks.crm import CrmHook
    from execution_plane.saga import audit

    status = {"renegotiate": "renegotiate", "close_deal": "closed"}[choice]
    params = context["params"]
    with _saga(context, register=False) as saga:
        decision = saga.approval_decision(f"{saga.workflow_id}:{CHOICE_STAGE}") or {}
        decided_by = decision.get("decided_by")
        label = RENEGOTIATE if status == "renegotiate" else CLOSE_DEAL
        note = f"{decided_by or 'nobody (timed out)'} chose {label}"
        if decision.get("comment"):
            note += f": {decision['comment']}"

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "INSERT INTO deals (deal_id, status, status_reason, workflow_id) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (deal_id) DO UPDATE SET status = EXCLUDED.status,"
                " status_reason = EXCLUDED.status_reason, updated_at = now()"
                " WHERE deals.workflow_id = EXCLUDED.workflow_id",
                (params["deal_id"], status, note[:500], saga.workflow_id),
            )
            # In the same transaction: a retry replays the step and writes no second audit row.
            audit.append(
                cur,
                actor=decided_by or "system:timeout",
                workflow_id=saga.workflow_id,
                action=f"deal.{status}",
                details={
                    "deal_id": params["deal_id"],
                    "choice": label,
                    "decision": decision.get("status"),
                    "comment": decision.get("comment"),
                },
            )
            return {"deal_id": params["deal_id"], "status": status, "note": note}

        recorded = saga.db_write(f"choice.{choice}", write, request={"status": status})
        crm = CrmHook()
        try:
            saga.call(
                f"choice.{choice}.crm",
                side_effect="crm.update_deal",
                request={"status": status},
                call=lambda key: crm.update_deal(
                    params["deal_id"],
                    status=status,
                    idempotency_key=key,
                    fields={"status_reason": note[:500], "workflow_id": saga.workflow_id},
                ),
            )
        finally:
            crm.close()
    return recorded


def end_unsigned(context: Any) -> NoReturn:
    """The run ends failed with the reason and the choice made (compensation was started already)."""
    from execution_plane.saga.outcomes import end_badly

    ti = context["ti"]
    ended = ti.xcom_pull(task_ids="signature_not_obtained")
    chosen = ti.xcom_pull(task_ids="renegotiate") or ti.xcom_pull(task_ids="close_deal")
    reason = ended["reason"] + (f"; {chosen['note']}" if chosen else "")
    end_badly(context, ended["status"], reason)


def compensate_on_failure(context: dict[str, Any]) -> None:
    """DAG failure callback: compensation, except for a refused approval token.

    A refused token registered nothing and sent nothing; compensating by request_id would undo another
    run's workflow that carries the same request_id (e.g. a forged token replayed against a live request).
    """
    from execution_plane.saga.callbacks import start_compensation_on_failure

    ti = context.get("task_instance") or context.get("ti")
    if ti is not None and ti.task_id == TOKEN_TASK:
        log.warning(
            "run %s: approval token refused; nothing was sent, nothing to compensate", context.get("run_id")
        )
        return
    start_compensation_on_failure(context)


# ----------------------------------------------------------------------------- status-poll fallback
def poll_envelope_statuses(*, workflow_ids: Sequence[str] | None = None, limit: int = 500) -> dict[str, Any]:
    """For each request still waiting ('sent'), ask the provider; put a terminal status in the inbox.

    The event lands in ``external_events`` exactly as a webhook's would (same source, type and correlation
    key), so the waiting trigger wakes through the same NOTIFY. Its id ``esign:poll:<envelope>:<status>``
    makes a repeated poll a no-op; the webhook's own event, if it arrives too, is another row the sensor
    no longer needs. One envelope the provider cannot answer does not stop the others.
    """
    import json

    from execution_plane.hooks.esign import EsignHook
    from execution_plane.hooks.http import ProviderError
    from execution_plane.saga.db import connect

    conn = connect(application_name="esign_status_poller")
    hook = EsignHook()
    found: list[str] = []
    failures: list[str] = []
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT workflow_id, envelope_id FROM signature_requests WHERE status = 'sent'"
                " AND envelope_id IS NOT NULL AND (%s::text[] IS NULL OR workflow_id = ANY(%s))"
                " ORDER BY updated_at LIMIT %s",
                (
                    list(workflow_ids) if workflow_ids is not None else None,
                    list(workflow_ids) if workflow_ids is not None else None,
                    limit,
                ),
            )
            waiting = cur.fetchall()
        for wf, envelope_id in waiting:
            try:
                envelope = hook.get_envelope(envelope_id)
            except ProviderError:
                log.exception("cannot read envelope %s of %s", envelope_id, wf)
                failures.append(envelope_id)
                continue
            status = envelope.get("status")
            if status not in TERMINAL_ENVELOPE_STATUSES:
                continue
            event_id = f"esign:poll:{envelope_id}:{status}"
            payload = {
                "event_id": event_id,
                "type": f"envelope.{status}",
                "envelope_id": envelope_id,
                "correlation_key": wf,
                "occurred_at": envelope.get(f"{status}_at"),
                "via": "status_poll",
            }
            with conn, conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO external_events (event_id, source, event_type, correlation_key, payload)"
                    " VALUES (%s, 'esign', %s, %s, %s::jsonb) ON CONFLICT (event_id) DO NOTHING",
                    (event_id, f"envelope.{status}", wf, json.dumps(payload)),
                )
                if cur.rowcount:
                    log.warning(
                        "envelope %s of %s is %s but no webhook said so: event %s added",
                        envelope_id,
                        wf,
                        status,
                        event_id,
                    )
                    found.append(event_id)
    finally:
        hook.close()
        conn.close()
    if failures:
        raise RuntimeError(f"could not read envelopes {failures} (the others were polled)")
    return {"checked": len(waiting), "found": found}
