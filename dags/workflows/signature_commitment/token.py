"""Approval token obtained: the token from the approval bridge verified against these exact terms and this
workflow before anything is registered or sent."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, step
from execution_plane.saga.compensations import compensation
from workflows.signature_commitment.common import APPROVAL_TOKEN_CONN_ID, TOKEN_STEP, sha256_text

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)


@step
def verify_approval_token(run: Run) -> dict[str, Any]:
    """Verify the token against these exact terms and this workflow, BEFORE anything is registered or sent.

    A forged, expired or mismatched token fails the run at once (no retry): no workflow is registered, so
    there is nothing to compensate (the DAG lists this task in ``fails_before_effects``). The refusal is kept
    in the audit log.
    A retry or re-run of a request whose token was accepted checks expiry at the first check's time: a
    token valid when the signature request went out stays valid for that request.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowFailException

    from execution_plane.saga.compensations import Compensation
    from include.domain.common import canonical_json, sha256_hex
    from workflows.signature_commitment.domain import InvalidApprovalToken, verify_token

    params, wf = run.params, run.workflow_id
    terms_sha256 = sha256_hex(canonical_json(params["terms"]))
    request = {"terms_sha256": terms_sha256}
    recorded_terms, first_checked_at = _earlier_check(run, request)
    secret = BaseHook.get_connection(APPROVAL_TOKEN_CONN_ID).password or ""
    try:
        if recorded_terms is not None and recorded_terms != terms_sha256:
            raise InvalidApprovalToken("terms_mismatch", f"request {wf} was already sent with other terms")
        checked_at = first_checked_at or int(time.time())
        claims = verify_token(
            secret, str(params["approval_token"]), workflow_key=wf, terms_sha256=terms_sha256, now=checked_at
        )
    except InvalidApprovalToken as exc:
        with run.open_saga(register=False, actor="approval_bridge") as saga:
            saga.audit(
                "approval_token.refused",
                {
                    "reason": exc.reason,
                    "detail": exc.detail,
                    "run_id": run.run_id,
                    "terms_sha256": terms_sha256,
                },
            )
        raise AirflowFailException(
            f"approval token refused ({exc.reason}{': ' + exc.detail if exc.detail else ''}): "
            "nothing was sent, nothing to compensate"
        ) from None

    with run.saga as saga:
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
                "token_sha256": sha256_text(str(params["approval_token"])),
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


def _earlier_check(run: Run, request: dict[str, Any]) -> tuple[str | None, int | None]:
    """(terms the request was recorded with, time of the accepted check) from an earlier run, if any."""
    with run.open_saga(register=False) as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT terms_sha256 FROM signature_requests WHERE workflow_id = %s", (run.workflow_id,)
            )
            row = cur.fetchone()
        checked = saga.stored_result(TOKEN_STEP, request)
    verified_at = checked.get("verified_at") if checked else None
    return (row[0] if row else None), (int(verified_at) if verified_at is not None else None)


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
