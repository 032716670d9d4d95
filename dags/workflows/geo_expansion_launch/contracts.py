"""Local partner contracts: each partner's terms signed through ``signature_commitment``, started as a child
run (one per partner, in parallel, each under its own stage so it is started once), waited for holding
nothing.

The launch issues each child's approval token itself: the terms in the launch's params are the terms its
``terms_approved_by`` approved, so the token (``include.domain.approval_token``, signed with the
``approval_token`` connection's secret) binds them to that child's workflow id. A contract that is declined,
expires or fails ends the launch at once: its compensation stops the children still out (through their own
compensation) and their outcomes end the other partners' waits. A signed contract is kept by compensation (it
binds); its partner is told the launch stopped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, child_outcome, start_child, step
from execution_plane.saga.compensations import compensation
from workflows.geo_expansion_launch.common import (
    APPROVAL_TOKEN_CONN_ID,
    CONTRACT_DAG_ID,
    TOKEN_TTL_S,
    plan_of,
    record_ending,
)

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)

#: A child's outcome -> the partner row's status and the launch's bad ending.
_ENDINGS = {
    "rejected": ("declined", "rejected"),
    "expired": ("expired", "expired"),
    "timed_out": ("timed_out", "expired"),
    "failed": ("failed", "failed"),
}


@step
def contracts_to_sign(run: Run, decision: dict[str, Any]) -> list[dict[str, Any]]:
    """The regulator cleared the market: the launch moves to its partners' contracts, one child each."""
    plan = plan_of(run)
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE geo_launches SET status = 'contracting', stage = 'partner_contracts',"
                " updated_at = now() WHERE workflow_id = %s",
                (saga.workflow_id,),
            )
            return {"partners": [p.partner_id for p in plan.partners]}

        saga.db_write("contracts_to_sign", write, request={"decision": decision["decision"]})
    return [partner.model_dump(mode="json") for partner in plan.partners]


@step
def start_partner_contract(run: Run, partner: dict[str, Any]) -> dict[str, Any]:
    """Approve the partner's terms for its child (token issued once), then start the child once."""
    from airflow.sdk import BaseHook

    from execution_plane.saga import keys
    from execution_plane.saga.compensations import Compensation
    from include.domain.approval_token import issue_token
    from include.domain.common import canonical_json, sha256_hex
    from workflows.geo_expansion_launch.domain import LocalPartner, child_wait_hours, partner_launch_cancelled

    local = LocalPartner.model_validate(partner)
    params = run.params
    child_workflow = keys.workflow_id(CONTRACT_DAG_ID, keys.child_request_id(run.request_id, local.stage))
    terms_sha256 = sha256_hex(canonical_json(local.terms))
    with run.saga as saga:

        def approve(cur: Any) -> dict[str, Any]:
            # The token's issue time is fixed once: a retry rebuilds the same token, so the child's start
            # below is the same request (its ledger step replays instead of refusing a changed conf).
            cur.execute("SELECT extract(epoch FROM now())::bigint")
            issued_at = int(cur.fetchone()[0])
            cur.execute(
                "UPDATE geo_launch_partners SET status = 'approved', child_workflow_id = %s,"
                " updated_at = now()"
                " WHERE workflow_id = %s AND partner_id = %s",
                (child_workflow, saga.workflow_id, local.partner_id),
            )
            return {
                "issued_at": issued_at,
                "terms_sha256": terms_sha256,
                "approver": params["terms_approved_by"],
            }

        notice = partner_launch_cancelled(plan_of(run), local, "{reason}")
        approved = saga.db_write(
            f"contract_terms.{local.partner_id}",
            approve,
            request={"terms_sha256": terms_sha256, "child": child_workflow},
            # Recorded before the child starts, so a contract signed after the launch already ended (its
            # outcome no longer recorded by the launch) still gets its partner told.
            compensation=Compensation(
                "geo_expansion_launch.tell_signed_partner",
                {
                    "partner_id": local.partner_id,
                    "child": child_workflow,
                    "to": local.signer_email,
                    "subject": notice.subject,
                    "body": notice.body,
                },
            ),
        )
    secret = BaseHook.get_connection(APPROVAL_TOKEN_CONN_ID).password or ""
    token = issue_token(
        secret,
        workflow_key=child_workflow,
        terms_sha256=terms_sha256,
        approver=approved["approver"],
        issued_at=approved["issued_at"],
        ttl_s=TOKEN_TTL_S,
    )
    timeout_hours = float(params["contract_timeout_hours"])
    started = start_child(
        run,
        local.stage,
        CONTRACT_DAG_ID,
        {
            "deal_id": local.deal_id,
            "partner_id": local.partner_id,
            "terms": local.terms,
            "approval_token": token,
            "signer_email": local.signer_email,
            "signer_name": local.signer_name,
            "signature_timeout_hours": timeout_hours,
            "renegotiation_timeout_hours": float(params["renegotiation_timeout_hours"]),
        },
        wait_hours=child_wait_hours(timeout_hours),
    )
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE geo_launch_partners SET status = 'started', child_run_id = %s, updated_at = now()"
                " WHERE workflow_id = %s AND partner_id = %s AND status = 'approved'",
                (started["run_id"], saga.workflow_id, local.partner_id),
            )
            return {"run_id": started["run_id"]}

        saga.db_write(f"contract_started.{local.partner_id}", write, request={"run_id": started["run_id"]})
    log.info("contract of %s: child %s (run %s)", local.partner_id, started["workflow_id"], started["run_id"])
    return {**started, "partner_id": local.partner_id}


@step
def contract_outcome(run: Run, outcome: dict[str, Any], started: dict[str, Any]) -> dict[str, Any]:
    """Signed: recorded (should the launch stop, the undo recorded with the terms tells the partner).
    Otherwise the launch ends (declined -> rejected, expired or not in time -> expired, the child failed ->
    failed). A contract that ends once the launch has ended (another contract failed first, or the launch's
    compensation stopped it) changes nothing: the first reason stands, compensation deals with it."""
    from airflow.sdk.exceptions import AirflowFailException

    plan = plan_of(run)
    partner = plan.partner(started["partner_id"])
    ended = child_outcome(outcome)
    with run.saga as saga:
        launch = (saga.workflow() or {}).get("status")
    if ended != "completed":
        table_status, bad_ending = _ENDINGS.get(ended, ("failed", "failed"))
        event = outcome.get("event") or {}
        child_reason = ((event.get("payload") or {}).get("reason")) if event else None
        reason = f"contract with {partner.name} ({partner.partner_id}) {table_status}" + (
            f": {child_reason}" if child_reason else ""
        )
        with run.saga as saga, saga.conn() as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE geo_launch_partners SET status = %s, outcome_reason = %s, updated_at = now()"
                " WHERE workflow_id = %s AND partner_id = %s",
                (table_status, reason[:2000], saga.workflow_id, partner.partner_id),
            )
        if launch == "running":
            launch_status = {"rejected": "declined", "expired": "expired"}.get(bad_ending, "failed")
            record_ending(run, launch_status, "partner_contracts", reason)
            run.end_badly(bad_ending, reason)
    if launch != "running":
        # A signed contract binds all the same: the launch's compensation tells its partner (the undo
        # recorded when its terms were approved).
        raise AirflowFailException(
            f"contract with {partner.partner_id} {ended} after the launch ended ({launch})"
        )
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE geo_launch_partners SET status = 'signed', outcome_reason = NULL, updated_at = now()"
                " WHERE workflow_id = %s AND partner_id = %s",
                (saga.workflow_id, partner.partner_id),
            )
            return {"partner_id": partner.partner_id, "status": "signed", "child": started["workflow_id"]}

        return saga.db_write(
            f"contract_signed.{partner.partner_id}", write, request={"child": started["workflow_id"]}
        )


@compensation("geo_expansion_launch.tell_signed_partner")
def tell_signed_partner(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Tell the partner the launch stopped, if its contract was signed (the contract binds and is kept).

    A partner whose contract was not signed hears from that contract's own compensation instead (its request
    void); one whose contract was signed after the launch had ended is told all the same."""
    from execution_plane.saga.compensations import notify
    from execution_plane.saga.steps import Saga as Ledger

    with Ledger.for_workflow(args["child"], actor=saga.actor, conn_id=saga.conn_id) as child:
        status = (child.workflow() or {}).get("status")
    if status != "completed":
        return {"partner_id": args["partner_id"], "told": False, "contract": status or "never started"}
    sent = notify(
        saga,
        {
            "channel": "email",
            "to": args["to"],
            "subject": args["subject"],
            "body": args["body"],
            "template": "geo_launch_stopped_partner",
        },
        reason,
        key,
    )
    return {"partner_id": args["partner_id"], "told": True, "message_id": sent["message_id"]}
