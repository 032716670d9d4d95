"""Counsel and financial-advisor reviews of each offer version, in parallel: the requests (undone by
cancelling a review still open), and the routing of the two answers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, routed_step, step
from execution_plane.saga.compensations import compensation
from workflows.ma_offer.common import MAX_REVIEW_ROUNDS, REVIEWERS, deadline

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

INSTRUCTIONS = {
    "counsel": "Legal opinion on the offer letter: conditions, structure, enforceability. Issue your opinion "
    "or request changes.",
    "advisor": "Fairness opinion on the price and structure. Issue your opinion or request changes (you may "
    "name price_usd, escrow_pct or earn_out_usd in the details).",
}


def _hook(reviewer: str) -> Any:
    from execution_plane.hooks.advisor import AdvisorHook
    from execution_plane.hooks.counsel import CounselHook

    return {"counsel": CounselHook, "advisor": AdvisorHook}[reviewer]()


def request_review(run: Run, saga: Saga, reviewer: str, offer: dict[str, Any], round_no: int) -> str:
    """Send the version to one firm (once); returns the firm's review id."""
    from execution_plane.saga.compensations import Compensation

    params = run.params

    def call(key: str) -> dict[str, Any]:
        answer: dict[str, Any] = hook.request_review(
            matter=saga.workflow_id,
            subject=f"Offer to acquire {params['target_company']}, version {offer['version']}",
            document_sha256=offer["document_sha256"],
            document_uri=offer["document_uri"],
            instructions=INSTRUCTIONS[reviewer],
            details={"version": offer["version"], "price_usd": offer["price_usd"]},
            correlation_key=run.correlation_key("review", reviewer, round_no),
            idempotency_key=key,
        )
        return answer

    def undo(result: dict[str, Any]) -> Compensation:
        return Compensation(
            "ma_offer.cancel_review",
            {"reviewer": reviewer, "review_id": result["review_id"], "round": round_no},
        )

    with _hook(reviewer) as hook:
        review = saga.call(
            f"review.r{round_no}.{reviewer}",
            side_effect=f"{reviewer}.request_review",
            request={"version": offer["version"], "document_sha256": offer["document_sha256"]},
            call=call,
            compensation=undo,
        )
    return str(review["review_id"])


@step
def request_reviews(run: Run, offer: dict[str, Any], round_no: int) -> dict[str, Any]:
    """Send version ``offer['version']`` to counsel and to the financial advisors (each once, with its own
    correlation key for the round) and fix the deadline of their answers."""
    with run.saga as saga:
        review_ids = {
            reviewer: request_review(run, saga, reviewer, offer, round_no) for reviewer in REVIEWERS
        }

        def write(cur: Any) -> dict[str, Any]:
            for reviewer, review_id in review_ids.items():
                cur.execute(
                    "INSERT INTO ma_offer_reviews (workflow_id, round, reviewer, version, review_id, status)"
                    " VALUES (%s, %s, %s, %s, %s, 'requested') ON CONFLICT DO NOTHING",
                    (saga.workflow_id, round_no, reviewer, offer["version"], review_id),
                )
            return {"respond_by": deadline(cur, float(run.params["review_timeout_hours"]))}

        asked = saga.db_write(f"reviews_requested.r{round_no}", write, request=review_ids)
    return {
        "round": round_no,
        "counsel_key": run.correlation_key("review", "counsel", round_no),
        "advisor_key": run.correlation_key("review", "advisor", round_no),
        "respond_by": asked["respond_by"],
    }


@compensation("ma_offer.cancel_review")
def cancel_review(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """The firm stops working on a review still open (an answered one is closed: nothing to cancel)."""
    with _hook(args["reviewer"]) as hook:
        answer = hook.cancel_review(args["review_id"], reason=reason[:2000], idempotency_key=key)
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE ma_offer_reviews SET status = 'cancelled', updated_at = now()"
            " WHERE workflow_id = %s AND round = %s AND reviewer = %s"
            " AND status IN ('requested', 'timed_out')",
            (saga.workflow_id, args["round"], args["reviewer"]),
        )
    return {"review_id": args["review_id"], "status": answer.get("status"), "error": answer.get("error")}


@routed_step
def route_reviews(
    run: Run, counsel: dict[str, Any], advisor: dict[str, Any], round_no: int
) -> dict[str, Any]:
    """Record both answers of the round; ``next``: board_approval (both opinions issued), next_round (a change
    requested, rounds left), or a bad ending (rounds_exhausted, expired)."""
    from workflows.ma_offer.domain import ReviewerChange, review_outcome, reviews_next_step

    outcomes = [review_outcome("counsel", counsel), review_outcome("advisor", advisor)]
    max_rounds = min(int(run.params["max_review_rounds"]), MAX_REVIEW_ROUNDS)
    next_step = reviews_next_step(outcomes, round_no, max_rounds)
    requests = []
    for outcome in outcomes:
        if outcome.status != "changes_requested":
            continue
        numbers = {
            name: outcome.details[name]
            for name in ("price_usd", "escrow_pct", "earn_out_usd")
            if isinstance(outcome.details.get(name), int | float)
            and not isinstance(outcome.details[name], bool)
        }
        try:
            change = ReviewerChange(
                reviewer=outcome.reviewer, summary=outcome.summary, changes=outcome.changes, **numbers
            )
        except ValueError:
            # Numbers out of range are the firm's mistake: its written changes still count.
            change = ReviewerChange(
                reviewer=outcome.reviewer, summary=outcome.summary, changes=outcome.changes
            )
        requests.append(change.model_dump(mode="json"))
    silent = [o.reviewer for o in outcomes if o.status == "timed_out"]
    asking = [o.reviewer for o in outcomes if o.status == "changes_requested"]
    reason = {
        "expired": f"no answer from {' and '.join(silent)} on review round {round_no} in time",
        "rounds_exhausted": f"{' and '.join(asking)} still requested changes after {max_rounds} review"
        " rounds",
    }.get(next_step)
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            for outcome in outcomes:
                cur.execute(
                    "UPDATE ma_offer_reviews SET status = %s, summary = %s, changes = %s::jsonb,"
                    " details = %s::jsonb, event_id = %s, updated_at = now()"
                    " WHERE workflow_id = %s AND round = %s AND reviewer = %s AND status = 'requested'",
                    (
                        outcome.status,
                        outcome.summary,
                        json.dumps(list(outcome.changes)),
                        json.dumps(outcome.details, default=str),
                        outcome.event_id,
                        saga.workflow_id,
                        round_no,
                        outcome.reviewer,
                    ),
                )
            return {"next_step": next_step, "requests": requests, "reason": reason}

        recorded = saga.db_write(
            f"reviews.r{round_no}",
            write,
            request={"round": round_no, "events": [o.event_id for o in outcomes]},
        )
    return {"next": recorded["next_step"], **recorded}


@step
def reviews_ended(run: Run, route: dict[str, Any], round_no: int) -> None:
    """No sign-off from the reviewers: out of rounds (rejected) or no answer in time (expired)."""
    from workflows.ma_offer.endings import end_offer

    end_offer(
        run,
        "expired" if route["next_step"] == "expired" else "rejected",
        f"review_r{round_no}",
        route["reason"],
    )
