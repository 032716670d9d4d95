"""Signing through ``signature_commitment`` as a child run, and the close.

The parent finalises the agreed terms, issues the approval token for exactly those terms and the child's
workflow (the password of the ``approval_token`` connection, as the approval bridge does), starts the child
once (``execution_plane.durable.children``) and waits for its outcome holding nothing. The child's own
compensation voids a signature still out when the parent is compensated."""

from __future__ import annotations

import time
from typing import Any

from execution_plane.durable import Run, routed_step, start_child, step
from execution_plane.saga import keys
from workflows.ma_offer.common import (
    APPROVAL_EMAIL_DOMAIN,
    APPROVAL_TOKEN_CONN_ID,
    MAX_COUNTER_ROUNDS,
    SIGNATURE_DAG,
    SIGNING_STAGE,
    TOKEN_TTL_S,
    offer_row,
    version_terms,
)


def _board_approver(run: Run) -> str:
    """Who holds the board's approval of the price being signed: the last board decision taken."""
    stages = [f"board_approval_r{r}" for r in range(MAX_COUNTER_ROUNDS, 1, -1)] + ["board_approval"]
    for stage in stages:
        decision = run.decision(stage)
        if decision and decision.get("status") == "approved" and decision.get("decided_by"):
            return f"{decision['decided_by']}@{APPROVAL_EMAIL_DOMAIN}"
    raise RuntimeError(f"{run.workflow_id}: signing without a board approval")


@step(trigger_rule="one_success")
def start_signing(run: Run) -> dict[str, Any]:
    """The agreed terms (with the regulator's accepted conditions) go to ``signature_commitment`` as this
    workflow's child, signed by the target's contact; returns what the wait for the child needs."""
    from airflow.sdk import BaseHook

    from include.domain.approval_token import issue_token
    from include.domain.common import canonical_json, sha256_hex
    from workflows.ma_offer.domain import OfferTerms

    params = run.params
    with run.saga as saga:
        offer = offer_row(saga)
        agreed = OfferTerms.model_validate(version_terms(saga, int(offer["version"])))
        approver = _board_approver(run)

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "SELECT status, conditions FROM ma_regulatory_filings WHERE workflow_id = %s",
                (saga.workflow_id,),
            )
            status, conditions = cur.fetchone()
            terms = {**agreed.terms, "regulatory_conditions": list(conditions) if status != "cleared" else []}
            cur.execute(
                "UPDATE ma_offers SET status = 'signing', stage = 'signing', updated_at = now()"
                " WHERE workflow_id = %s",
                (saga.workflow_id,),
            )
            # Issued once: a retry replays the same token, so the child's start is the same request.
            return {"terms": terms, "approver": approver, "issued_at": int(time.time())}

        final = saga.db_write("signing_terms", write, request={"version": agreed.version})
        child_request_id = keys.child_request_id(run.request_id, SIGNING_STAGE)
        token = issue_token(
            BaseHook.get_connection(APPROVAL_TOKEN_CONN_ID).password or "",
            workflow_key=keys.workflow_id(SIGNATURE_DAG, child_request_id),
            terms_sha256=sha256_hex(canonical_json(final["terms"])),
            approver=final["approver"],
            issued_at=int(final["issued_at"]),
            ttl_s=TOKEN_TTL_S,
        )
        started = start_child(
            run,
            SIGNING_STAGE,
            SIGNATURE_DAG,
            {
                "deal_id": str(params["deal_id"]),
                "partner_id": str(params["target_id"]),
                "terms": final["terms"],
                "approval_token": token,
                "signer_email": str(params["target_contact_email"]),
                "signer_name": str(params["target_contact_name"]),
                "signature_timeout_hours": float(params["signature_timeout_hours"]),
                "renegotiation_timeout_hours": float(params["renegotiation_timeout_hours"]),
            },
            wait_hours=float(params["signing_timeout_hours"]),
        )

        def record(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE ma_offers SET child_workflow_id = %s, updated_at = now() WHERE workflow_id = %s",
                (started["workflow_id"], saga.workflow_id),
            )
            return {"child": started["workflow_id"]}

        saga.db_write("signing_child", record, request={"child": started["workflow_id"]})
    return started


@routed_step
def route_signing(run: Run, outcome: dict[str, Any]) -> dict[str, Any]:
    """The child's outcome; ``next``: close (signed), or a bad ending (declined, expired, failed, or the child
    not done in time)."""
    from execution_plane.durable import child_outcome

    ended = child_outcome(outcome)
    status = {"completed": None, "rejected": "rejected", "expired": "expired", "failed": "failed"}.get(
        ended, "expired"
    )
    reason = {
        "rejected": "the target declined to sign",
        "expired": "the signature was not obtained in time",
        "failed": "the signing workflow failed",
        "timed_out": "the signing workflow did not end in time",
    }.get(ended)
    child_reason = (
        (outcome.get("event") or {}).get("payload", {}).get("reason") if ended != "timed_out" else None
    )
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            if status is None:
                cur.execute(
                    "UPDATE ma_offers SET status = 'signed', stage = 'signed', updated_at = now()"
                    " WHERE workflow_id = %s",
                    (saga.workflow_id,),
                )
            return {
                "next_step": "close" if status is None else "ended",
                "status": status,
                "reason": f"{reason} ({child_reason})" if reason and child_reason else reason,
                "child_outcome": ended,
            }

        recorded = saga.db_write("signing_outcome", write, request={"outcome": ended})
    return {"next": recorded["next_step"], **recorded}


@step
def signing_ended(run: Run, route: dict[str, Any]) -> None:
    """Not signed: the child's own compensation (started by the child, or by this workflow's) voids what it
    sent; this workflow's compensation withdraws the offer and the filing."""
    from workflows.ma_offer.endings import end_offer

    end_offer(run, str(route["status"]), "signing", str(route["reason"]))


@step(retries=10)
def close_deal(run: Run) -> dict[str, Any]:
    """Signed: the CRM deal and the target are told, once. Forward only: a signed deal is never undone by a
    failure here (the step retries for longer, and the undos keep a signed offer)."""
    from execution_plane.hooks.crm import CrmHook
    from workflows.ma_offer.domain import OfferTerms, closing_notice

    params = run.params
    with run.saga as saga:
        offer = offer_row(saga)
        terms = OfferTerms.model_validate(version_terms(saga, int(offer["version"])))
        with CrmHook() as crm:
            saga.call(
                "crm_signed",
                side_effect="crm.update_deal",
                request={"status": "signed", "version": terms.version},
                call=lambda key: crm.update_deal(
                    str(params["deal_id"]),
                    status="signed",
                    fields={
                        "price_usd": terms.price_usd,
                        "offer_version": terms.version,
                        "signing_workflow_id": offer["child_workflow_id"],
                    },
                    idempotency_key=key,
                ),
            )
        message = closing_notice(terms, str(params["target_contact_name"]))
        saga.send_message(
            "closing_notice",
            channel="email",
            to=str(params["target_contact_email"]),
            template="ma_offer_signed",
            subject=message.subject,
            body=message.body,
        )

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE ma_offers SET stage = 'closed', updated_at = now() WHERE workflow_id = %s",
                (saga.workflow_id,),
            )
            return {"closed": True}

        saga.db_write("closed", write, request={"version": terms.version})
    return {"deal_id": str(params["deal_id"]), "price_usd": terms.price_usd, "version": terms.version}
