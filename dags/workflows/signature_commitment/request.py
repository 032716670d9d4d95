"""Signature request sent: the terms PDF stored once, the eSign envelope created with the step's key, the
request recorded, the signer told; and the undos that make an unsigned request void."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, step
from execution_plane.saga.compensations import compensation
from workflows.signature_commitment.common import (
    DEAL_DESK_EMAIL,
    ENVELOPE_STEP,
    TERMINAL_ENVELOPE_STATUSES,
    when,
)

if TYPE_CHECKING:
    from execution_plane.hooks.http import ProviderError
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)


def _terms_pdf(params: Mapping[str, Any], approval: dict[str, Any]) -> bytes:
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


@step
def send_signature_request(run: Run, approval: dict[str, Any]) -> dict[str, Any]:
    """Store the terms PDF, create the eSign envelope, record the request as sent, tell the signer.

    The terms PDF has no undo: it is the record of what was offered, and voiding the envelope is what makes
    it unsignable. ``sign_by`` (the wait's deadline) is fixed once, when the request goes out.
    """
    from execution_plane.hooks.crm import CrmHook
    from execution_plane.hooks.esign import EsignHook
    from execution_plane.saga.compensations import Compensation

    params = run.params
    deal_id, signer_email, signer_name = params["deal_id"], params["signer_email"], params["signer_name"]
    with run.saga as saga:
        doc = saga.store_document(
            "terms_pdf", kind="signature_terms", data=_terms_pdf(params, approval), compensation=False
        )
        with CrmHook() as crm, EsignHook() as esign:
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
                    correlation_key=run.correlation_key(),
                    idempotency_key=key,
                ),
                compensation=lambda r: Compensation(
                    "signature_commitment.void_envelope", {"envelope_id": r["envelope_id"]}
                ),
            )
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
        sign_by = when(sent["sign_by"])
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
        "correlation_key": run.correlation_key(),
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


def _not_voidable_status(exc: ProviderError) -> str | None:
    """The envelope's status when the provider refused to void it because it is signed/declined/expired."""
    body = exc.refusal(409, "envelope_not_voidable")
    status = body.get("status") if body is not None else None
    return status if status in TERMINAL_ENVELOPE_STATUSES else None


@compensation("signature_commitment.void_envelope")
def void_envelope(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Void the envelope unless it can no longer be signed (declined, expired) or is signed (kept)."""
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
    from workflows.signature_commitment.domain import expired_notice, void_notice

    envelope_id = args["envelope_id"]
    voided = _void(saga, envelope_id, reason, saga.key("compensate", ENVELOPE_STEP))
    if voided.get("status") == "signed" or _request_status(saga) == "signed":
        return {"skipped": "the envelope is signed: nothing was withdrawn", "envelope_id": envelope_id}
    if voided.get("status") == "expired":
        with EsignHook() as hook:
            expired_at = hook.get_envelope(envelope_id).get("expired_at")
        message = expired_notice(
            args["deal_id"], args["signer_name"], envelope_id=envelope_id, expired_at=when(expired_at)
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
