"""The regulatory filing: submitted once through the regulator's portal (undone by a withdrawal), then the
regulator's acknowledgement and its decision (clearance, clearance with conditions, refusal)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, routed_step, step
from execution_plane.saga.compensations import compensation
from workflows.ma_offer.common import FILING_KIND, deadline, is_signed, offer_row, version_terms

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga


@step
def file_with_regulator(run: Run, sent: dict[str, Any]) -> dict[str, Any]:
    """Notify the transaction to the regulator (once: the step's key is the portal's Idempotency-Key) and fix
    the deadline of its acknowledgement."""
    from execution_plane.hooks.regulator import RegulatorHook
    from execution_plane.saga.compensations import Compensation
    from workflows.ma_offer.domain import OfferTerms

    params = run.params
    correlation_key = run.correlation_key("filing")
    with run.saga as saga:
        terms = OfferTerms.model_validate(version_terms(saga, int(sent["version"])))
        with saga.conn() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT document_sha256 FROM ma_offer_versions WHERE workflow_id = %s AND version = %s",
                (saga.workflow_id, terms.version),
            )
            document_sha256 = cur.fetchone()[0]
        with RegulatorHook() as hook:
            filing = saga.call(
                "regulatory_filing",
                side_effect="regulator.submit_filing",
                request={"kind": FILING_KIND, "version": terms.version},
                call=lambda key: hook.submit_filing(
                    kind=FILING_KIND,
                    subject=str(params["deal_id"]),
                    jurisdiction=str(params["regulator_jurisdiction"]),
                    applicant=str(params["acquirer"]),
                    summary=f"Proposed acquisition of {terms.target_company} by {terms.acquirer} for "
                    f"USD {terms.price_usd:,} in cash",
                    details={
                        "deal_id": terms.deal_id,
                        "target_company": terms.target_company,
                        "price_usd": terms.price_usd,
                        "offer_version": terms.version,
                    },
                    document_sha256=document_sha256,
                    correlation_key=correlation_key,
                    idempotency_key=key,
                ),
                compensation=lambda result: Compensation(
                    "ma_offer.withdraw_filing", {"filing_id": result["filing_id"]}
                ),
            )

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "INSERT INTO ma_regulatory_filings (workflow_id, filing_id, reference, kind, jurisdiction,"
                " status) VALUES (%s, %s, %s, %s, %s, 'submitted') ON CONFLICT (workflow_id) DO NOTHING",
                (
                    saga.workflow_id,
                    filing["filing_id"],
                    filing["reference"],
                    FILING_KIND,
                    params["regulator_jurisdiction"],
                ),
            )
            cur.execute(
                "UPDATE ma_offers SET status = 'filed', stage = 'regulatory_filing', updated_at = now()"
                " WHERE workflow_id = %s",
                (saga.workflow_id,),
            )
            return {"ack_by": deadline(cur, float(params["regulator_ack_timeout_hours"]))}

        recorded = saga.db_write(
            "regulatory_filing.record", write, request={"filing_id": filing["filing_id"]}
        )
    return {
        "filing_id": filing["filing_id"],
        "reference": filing["reference"],
        "correlation_key": correlation_key,
        "ack_by": recorded["ack_by"],
    }


@compensation("ma_offer.withdraw_filing")
def withdraw_filing(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Withdraw the filing from the regulator (a refused one is closed already); a signed deal keeps it."""
    from execution_plane.hooks.regulator import RegulatorHook

    if is_signed(saga):
        return {"filing_id": args["filing_id"], "kept": "the offer is signed"}
    with RegulatorHook() as hook:
        answer = hook.withdraw_filing(
            args["filing_id"], reason=f"offer withdrawn: {reason}"[:2000], idempotency_key=key
        )
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ma_regulatory_filings SET status = 'withdrawn', updated_at = now()"
            " WHERE workflow_id = %s AND status <> 'refused'",
            (saga.workflow_id,),
        )
    return {"filing_id": args["filing_id"], "status": answer.get("status"), "error": answer.get("error")}


def _decision(outcome: dict[str, Any]) -> dict[str, Any]:
    """The regulator's event as the portal sent it (the webhook body's payload)."""
    body = outcome["event"].get("payload") or {}
    payload = body.get("payload") if isinstance(body, dict) else None
    return payload if isinstance(payload, dict) else {}


@routed_step
def record_acknowledgement(run: Run, outcome: dict[str, Any], filing: dict[str, Any]) -> dict[str, Any]:
    """The regulator acknowledged the filing (a decision that came first implies it): the review clock runs,
    the decision's deadline is fixed; ``next``: regulator_decision, or expired when nothing came in time."""
    received = outcome.get("status") == "received"
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            if not received:
                cur.execute(
                    "UPDATE ma_regulatory_filings SET status = 'timed_out', updated_at = now()"
                    " WHERE workflow_id = %s AND status = 'submitted'",
                    (saga.workflow_id,),
                )
                return {
                    "next_step": "expired",
                    "reason": f"the regulator did not acknowledge filing {filing['reference']} in time",
                }
            cur.execute(
                "UPDATE ma_regulatory_filings SET status = 'acknowledged', updated_at = now()"
                " WHERE workflow_id = %s AND status = 'submitted'",
                (saga.workflow_id,),
            )
            cur.execute(
                "UPDATE ma_offers SET stage = 'regulatory_review', updated_at = now() WHERE workflow_id = %s",
                (saga.workflow_id,),
            )
            return {
                "next_step": "regulator_decision",
                "decide_by": deadline(cur, float(run.params["regulator_decision_timeout_hours"])),
            }

        recorded = saga.db_write(
            "regulatory_acknowledgement",
            write,
            request={"event_id": outcome["event"]["event_id"] if received else None},
        )
    return {"next": recorded["next_step"], "correlation_key": filing["correlation_key"], **recorded}


@routed_step
def route_decision(run: Run, outcome: dict[str, Any]) -> dict[str, Any]:
    """Record the regulator's decision; ``next``: target_response (cleared), conditions_review (cleared with
    conditions: the board decides), or a bad ending (refused, expired)."""
    from workflows.ma_offer.domain import OfferTerms, regulator_next_step

    received = outcome.get("status") == "received"
    decision = _decision(outcome) if received else {}
    status = str(outcome["event"]["event_type"]).removeprefix("filing.") if received else None
    next_step = regulator_next_step(status)
    conditions = (
        [str(c)[:500] for c in decision.get("conditions") or []]
        if isinstance(decision.get("conditions"), list)
        else []
    )
    with run.saga as saga:
        terms = OfferTerms.model_validate(version_terms(saga, int(offer_row(saga)["version"])))

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE ma_regulatory_filings SET status = %s, conditions = %s::jsonb, decision_reason = %s,"
                " updated_at = now() WHERE workflow_id = %s AND status IN ('submitted', 'acknowledged')",
                (
                    status or "timed_out",
                    json.dumps(conditions),
                    decision.get("reason"),
                    saga.workflow_id,
                ),
            )
            cur.execute(
                "SELECT reference FROM ma_regulatory_filings WHERE workflow_id = %s", (saga.workflow_id,)
            )
            reference = cur.fetchone()[0]
            reason = {
                "refused": f"the regulator refused the transaction (filing {reference})"
                + (f": {decision['reason']}" if decision.get("reason") else ""),
                "expired": f"no regulatory decision on filing {reference} in time",
            }.get(next_step)
            return {
                "next_step": next_step,
                "reason": reason,
                "conditions": conditions,
                "reference": reference,
            }

        recorded = saga.db_write(
            "regulatory_decision",
            write,
            request={"event_id": outcome["event"]["event_id"] if received else None},
        )
    brief = (
        f"The regulator cleared the acquisition of {terms.target_company} (filing {recorded['reference']}) "
        "on conditions:\n" + "\n".join(f"- {c}" for c in conditions) + f"\nOffer version {terms.version}: "
        f"USD {terms.price_usd:,}. Approve to accept the conditions and go on to the target's answer; "
        "reject to abandon the offer (it is withdrawn, and so is the filing)."
    )
    return {"next": recorded["next_step"], **recorded, "conditions_brief": brief}


@step
def regulatory_ended(run: Run, route: dict[str, Any]) -> None:
    """Refused (rejected), or no acknowledgement or decision in time (expired)."""
    from workflows.ma_offer.endings import end_offer

    status = "rejected" if route["next_step"] == "refused" else "expired"
    end_offer(run, status, "regulatory_filing", str(route["reason"]))
