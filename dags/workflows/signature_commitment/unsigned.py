"""Not signed: declined, expired at the provider, or not signed in time. The bad ending is recorded and
compensation starts at once; then the deal desk chooses between re-negotiating and closing the deal."""

from __future__ import annotations

import logging
from typing import Any

from execution_plane.durable import Run, step
from workflows.signature_commitment.common import CHOICE_STAGE, CLOSE_DEAL, DEAL_DESK_EMAIL, RENEGOTIATE

log = logging.getLogger(__name__)


@step
def signature_not_obtained(run: Run, outcome: dict[str, Any], sent: dict[str, Any]) -> dict[str, str]:
    """Record the bad ending, ask the deal desk, and start compensation now (not after the choice).

    The void and the notices do not wait for a person: the envelope could otherwise still be signed while
    the deal desk thinks. The run itself ends failed with the reason after the choice (``end_unsigned``).
    """
    params = run.params
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
    with run.saga as saga:

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
    run.start_compensation(ended["status"], ended["reason"], note_suffix="awaiting the re-negotiate choice")
    return {
        "status": ended["status"],
        "reason": ended["reason"],
        # What the deal desk reads in its choice.
        "choice_request": f"{ended['reason']}. The envelope is voided and the parties told. Re-negotiate "
        "(new terms, new approval) or close the deal; add a comment.",
    }


@step
def record_choice(run: Run, choice: str) -> dict[str, Any]:
    """Record the deal desk's answer: deals status, CRM deal status, audit.

    The workflow ended before the choice (compensation may be running), so these steps do not register it:
    they are the follow-up a person decided, recorded idempotently, with nothing to undo.
    """
    from execution_plane.hooks.crm import CrmHook
    from execution_plane.saga import audit

    status = {"renegotiate": "renegotiate", "close_deal": "closed"}[choice]
    params = run.params
    with run.open_saga(register=False) as saga:
        decision = run.decision(CHOICE_STAGE) or {}
        decided_by = decision.get("decided_by")
        label = RENEGOTIATE if status == "renegotiate" else CLOSE_DEAL
        note = choice_note(label, decision)

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
        with CrmHook() as crm:
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
    return recorded


@step(trigger_rule="one_success")
def end_unsigned(run: Run) -> None:
    """The run ends failed with the reason and the choice made (compensation was started already)."""
    with run.open_saga(register=False) as saga:
        ended = saga.workflow() or {}
        with saga.conn() as conn, conn.cursor() as cur:
            cur.execute("SELECT status FROM signature_requests WHERE workflow_id = %s", (run.workflow_id,))
            row = cur.fetchone()
    status = "rejected" if row and row[0] == "declined" else "expired"
    decision = run.decision(CHOICE_STAGE) or {}
    label = RENEGOTIATE if decision.get("status") == "approved" else CLOSE_DEAL
    run.end_badly(status, f"{ended.get('reason')}; {choice_note(label, decision)}")


def choice_note(label: str, decision: dict[str, Any]) -> str:
    """ "deal_desk chose Close deal: <comment>" (nobody, when the choice timed out)."""
    note = f"{decision.get('decided_by') or 'nobody (timed out)'} chose {label}"
    if decision.get("comment"):
        note += f": {decision['comment']}"
    return note
