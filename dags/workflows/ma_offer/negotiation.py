"""The target's answer: asked for once the regulator cleared the deal, then routed round by round (accept,
counter within the board's mandate or back to the board, reject, no answer in time)."""

from __future__ import annotations

import json
from typing import Any

from execution_plane.durable import Run, routed_step, step
from workflows.ma_offer.common import MAX_COUNTER_ROUNDS, deadline, offer_row, version_terms, when


@step
def accept_conditions(run: Run) -> dict[str, Any]:
    """The board accepted the regulator's conditions: they become conditions of the deal the parties sign."""
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "SELECT conditions FROM ma_regulatory_filings WHERE workflow_id = %s", (saga.workflow_id,)
            )
            conditions = cur.fetchone()[0]
            cur.execute(
                "UPDATE ma_offers SET stage = 'conditions_accepted', updated_at = now()"
                " WHERE workflow_id = %s",
                (saga.workflow_id,),
            )
            return {"conditions": conditions}

        return saga.db_write("regulatory_conditions_accepted", write, request={})


@step(trigger_rule="one_success")
def request_response(run: Run) -> dict[str, Any]:
    """The regulator cleared the deal: the target is asked for its answer to the offer, by a deadline fixed
    once (round 1 of the negotiation)."""
    from workflows.ma_offer.domain import OfferTerms, response_request

    params = run.params
    with run.saga as saga:
        terms = OfferTerms.model_validate(version_terms(saga, int(offer_row(saga)["version"])))

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE ma_offers SET status = 'negotiating', stage = 'negotiation_r1', updated_at = now()"
                " WHERE workflow_id = %s",
                (saga.workflow_id,),
            )
            return {"respond_by": deadline(cur, float(params["target_response_timeout_hours"]))}

        asked = saga.db_write("response_requested.r1", write, request={"version": terms.version})
        message = response_request(
            terms,
            str(params["target_contact_name"]),
            respond_by=when(asked["respond_by"]),
            reference=run.correlation_key("response", 1),
        )
        saga.send_message(
            "response_requested.r1.email",
            channel="email",
            to=str(params["target_contact_email"]),
            template="ma_offer_response_request",
            subject=message.subject,
            body=message.body,
        )
    return {"respond_by": asked["respond_by"], "correlation_key": run.correlation_key("response", 1)}


@routed_step
def route_response(run: Run, outcome: dict[str, Any], round_no: int) -> dict[str, Any]:
    """Record the target's answer of the round; ``next``: signing (accepted, or a counter within the board's
    mandate: agreed at the counter price), board_approval (a counter beyond it: a new version for the board,
    the next round), or a bad ending (rejected, rounds_exhausted, expired).

    Everything is decided inside the step's one recorded write, from the offer as it stood: a retry replays
    the decision (and the new version's terms) instead of deciding again from the offer it changed."""
    from workflows.ma_offer.domain import OfferTerms, offer_letter_pdf, target_response

    response = target_response(outcome)
    event_id = outcome["event"].get("event_id") if response is not None else None
    with run.saga as saga:
        issued_on = saga.started_on()
        recorded = saga.db_write(
            f"negotiation.r{round_no}",
            lambda cur: _record_response(cur, run, saga.workflow_id, response, event_id, round_no, issued_on),
            request={
                "round": round_no,
                "event_id": event_id,
                "kind": response.kind if response else "timeout",
            },
        )
        if recorded["countered"] is not None:
            saga.store_document(
                f"offer_letter.v{recorded['countered']['version']}",
                kind="ma_offer_letter",
                data=offer_letter_pdf(OfferTerms.model_validate(recorded["countered"])),
                compensation=False,
            )
    return {"next": recorded["next_step"], **recorded}


def _record_response(
    cur: Any, run: Run, workflow_id: str, response: Any, event_id: str | None, round_no: int, issued_on: Any
) -> dict[str, Any]:
    import hashlib

    from workflows.ma_offer.domain import OfferTerms, countered_offer, offer_letter_pdf, target_next_step
    from workflows.ma_offer.offer import brief

    params = run.params
    max_rounds = min(int(params["max_counter_rounds"]), MAX_COUNTER_ROUNDS)
    threshold = float(params["board_threshold_pct"])
    target = str(params["target_company"])
    cur.execute("SELECT version, board_price_usd FROM ma_offers WHERE workflow_id = %s", (workflow_id,))
    sent_version, board_price = cur.fetchone()
    cur.execute(
        "SELECT terms FROM ma_offer_versions WHERE workflow_id = %s AND version = %s",
        (workflow_id, sent_version),
    )
    current = OfferTerms.model_validate(cur.fetchone()[0])
    next_step = target_next_step(
        response,
        board_price_usd=int(board_price),
        threshold_pct=threshold,
        round_no=round_no,
        max_rounds=max_rounds,
    )
    countered = (
        countered_offer(current, int(response.price_usd), response.note, issued_on=issued_on)
        if response is not None and response.kind == "counter" and next_step in ("signing", "board_approval")
        else None
    )
    cur.execute(
        "INSERT INTO ma_target_responses (workflow_id, round, event_id, response, counter_price_usd, payload,"
        " next_step) VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s) ON CONFLICT (workflow_id, round) DO NOTHING",
        (
            workflow_id,
            round_no,
            event_id,
            response.kind if response is not None else "timeout",
            response.price_usd if response is not None else None,
            json.dumps(response.model_dump(mode="json") if response is not None else {}),
            next_step,
        ),
    )
    agreed_version = sent_version
    if countered is not None:
        cur.execute(
            "INSERT INTO ma_offer_versions (workflow_id, version, source, price_usd, terms, terms_sha256,"
            " document_sha256, changes, status) VALUES (%s, %s, 'counter', %s, %s::jsonb, %s, %s, %s::jsonb,"
            " 'drafted') ON CONFLICT (workflow_id, version) DO NOTHING",
            (
                workflow_id,
                countered.version,
                countered.price_usd,
                countered.model_dump_json(),
                countered.terms_sha256,
                hashlib.sha256(offer_letter_pdf(countered)).hexdigest(),
                json.dumps(list(countered.changes)),
            ),
        )
        cur.execute(
            "UPDATE ma_offer_versions SET status = 'superseded', updated_at = now()"
            " WHERE workflow_id = %s AND version = %s",
            (workflow_id, sent_version),
        )
        cur.execute(
            "UPDATE ma_offers SET version = %s WHERE workflow_id = %s", (countered.version, workflow_id)
        )
        agreed_version = countered.version
    agreed_price = None
    if next_step == "signing":
        agreed_price = countered.price_usd if countered is not None else current.price_usd
        cur.execute(
            "UPDATE ma_offer_versions SET status = 'agreed', updated_at = now()"
            " WHERE workflow_id = %s AND version = %s",
            (workflow_id, agreed_version),
        )
        cur.execute(
            "UPDATE ma_offers SET agreed_price_usd = %s, stage = %s, updated_at = now()"
            " WHERE workflow_id = %s",
            (agreed_price, f"agreed_r{round_no}", workflow_id),
        )
    elif next_step == "board_approval":
        cur.execute(
            "UPDATE ma_offers SET status = 'board_review', stage = %s, updated_at = now()"
            " WHERE workflow_id = %s",
            (f"board_approval_r{round_no + 1}", workflow_id),
        )
    note = f": {response.note}" if response is not None and response.note else ""
    counter_price = response.price_usd if response is not None and response.price_usd else 0
    reasons = {
        "rejected": f"{target} rejected the offer in round {round_no}{note}",
        "rounds_exhausted": f"no agreement with {target} after {max_rounds} round{'s' * (max_rounds > 1)}"
        f" (its last counter, USD "
        f"{counter_price:,}, is more than {threshold:g}% above the board's USD {board_price:,})",
        "expired": f"{target} did not answer round {round_no} in time",
    }
    board_brief = (
        brief(
            countered,
            f"{target} countered at USD {countered.price_usd:,}, more than {threshold:g}% above the price"
            f" you approved (USD {board_price:,}). Approving sends this revised offer.",
        )
        if countered is not None and next_step == "board_approval"
        else ""
    )
    return {
        "next_step": next_step,
        "agreed_price_usd": agreed_price,
        "reason": reasons.get(next_step),
        "countered": countered.model_dump(mode="json") if countered is not None else None,
        "board_brief": board_brief,
    }


@step
def negotiation_ended(run: Run, route: dict[str, Any], round_no: int) -> None:
    """No agreement: rejected, out of rounds (rejected), or no answer in time (expired)."""
    from workflows.ma_offer.endings import end_offer

    status = "expired" if route["next_step"] == "expired" else "rejected"
    end_offer(run, status, f"negotiation_r{round_no}", str(route["reason"]))
