"""Outside reviewers (legal counsel, financial advisors): a document sent for review once, an opinion or a
change request coming back by signed webhook, an engagement cancelled when the deal is off.

Both firms work alike, so one factory builds each one's routes (``counsel.py``, ``advisor.py``); each is its
own system in the effect log, the fault matcher and the idempotency store, and sends its webhooks to its
own ``{base}/events/<system>``. A review's life: ``in_review`` -> ``opinion_issued`` (the firm signs off,
e.g. a legal opinion or a fairness opinion) or ``changes_requested`` (the firm asks for changes: the
requester sends a new version as a new review); an open review can be ``cancelled``.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.state import SandboxState, new_id, stable_id, utc_now_iso
from include.sandbox.webhooks import WebhookDispatcher, dispatch

ReviewerAction = Literal["opinion", "request_changes"]
_TARGET_STATUS: dict[str, str] = {"opinion": "opinion_issued", "request_changes": "changes_requested"}
ANSWERS = tuple(_TARGET_STATUS.values())


class ReviewIn(BaseModel):
    matter: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=500)
    document_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    document_uri: str = Field(min_length=1, max_length=1000)
    instructions: str = Field(default="", max_length=4000)
    details: dict[str, Any] = Field(default_factory=dict)
    correlation_key: str = Field(min_length=1, max_length=300)


class CancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class ReviewerAnswerIn(BaseModel):
    summary: str = Field(default="", max_length=4000)
    changes: list[str] = Field(default_factory=list, max_length=50)
    details: dict[str, Any] = Field(default_factory=dict)


def review_event(system: str, review: dict[str, Any]) -> dict[str, Any]:
    """The webhook for the review's answer; its id is stable so a redelivery is recognisable."""
    status = review["status"]
    return {
        "event_id": stable_id("evt", system, review["review_id"], status),
        "type": f"review.{status}",
        "correlation_key": review["correlation_key"],
        "payload": {
            "review_id": review["review_id"],
            "matter": review["matter"],
            "reviewer": system,
            "status": status,
            "summary": review["summary"],
            "changes": list(review["changes"]),
            "details": copy.deepcopy(review["answer_details"]),
            "document_sha256": review["document_sha256"],
        },
        "occurred_at": review["answered_at"],
    }


def review_routes(system: str, *, id_prefix: str) -> tuple[APIRouter, APIRouter]:
    """The provider router (``/<system>/v1/reviews``) and the control router (``/_sandbox/<system>``)."""
    router = provider_router(system, f"/{system}/v1")
    control_router = APIRouter(prefix=f"/_sandbox/{system}", tags=["sandbox control"])
    kind = f"{system}_reviews"

    def _review(resources: dict[str, dict[str, Any]], review_id: str) -> dict[str, Any]:
        review = resources[kind].get(review_id)
        if review is None:
            raise ProviderError(404, "review_not_found", f"review {review_id} not found", review_id=review_id)
        return review

    @router.post("/reviews", status_code=201)
    def request_review(body: ReviewIn, call: CallDep) -> dict[str, Any]:
        review: dict[str, Any] = {
            "review_id": new_id(id_prefix),
            "status": "in_review",
            **body.model_dump(),
            "summary": "",
            "changes": [],
            "answer_details": {},
            "requested_at": utc_now_iso(),
            "answered_at": None,
            "cancelled_at": None,
            "cancel_reason": None,
        }
        with call.state.transaction() as resources:
            resources[kind][review["review_id"]] = review
            call.record(review["review_id"], body.model_dump())
        return {"review_id": review["review_id"], "status": "in_review"}

    @router.get("/reviews/{review_id}")
    def get_review(review_id: str, call: CallDep) -> dict[str, Any]:
        with call.state.view() as resources:
            return copy.deepcopy(_review(resources, review_id))

    @router.post("/reviews/{review_id}/cancel")
    def cancel_review(review_id: str, body: CancelIn, call: CallDep) -> dict[str, Any]:
        with call.state.transaction() as resources:
            review = _review(resources, review_id)
            status = review["status"]
            if status == "cancelled":
                raise ProviderError(
                    409,
                    "already_cancelled",
                    "review is already cancelled",
                    review_id=review_id,
                    status=status,
                )
            if status != "in_review":
                raise ProviderError(
                    409,
                    "review_closed",
                    f"the review is closed ({status}): nothing left to cancel",
                    review_id=review_id,
                    status=status,
                )
            review.update(status="cancelled", cancelled_at=utc_now_iso(), cancel_reason=body.reason)
            call.record(review_id, body.model_dump())
            return {"review_id": review_id, "status": "cancelled", "cancelled_at": review["cancelled_at"]}

    @control_router.post("/reviews/{review_id}/{action}")
    def act_as_reviewer(
        review_id: str,
        action: ReviewerAction,
        request: Request,
        body: ReviewerAnswerIn | None = None,
        deliver: bool = True,
        wait: bool = True,
    ) -> dict[str, Any]:
        """Issue the opinion or request changes, as the firm would; repeating the same answer redelivers its
        webhook (the same event id)."""
        state: SandboxState = request.app.state.sandbox
        target = _TARGET_STATUS[action]
        answer = body or ReviewerAnswerIn()
        if target == "changes_requested" and not answer.changes:
            raise ProviderError(422, "changes_required", "a change request names the changes")
        with state.transaction() as resources:
            review = _review(resources, review_id)
            if review["status"] != target:
                if review["status"] != "in_review":
                    raise ProviderError(
                        409,
                        "invalid_transition",
                        f"cannot {action} on a review that is {review['status']}",
                        review_id=review_id,
                        status=review["status"],
                    )
                review.update(
                    status=target,
                    answered_at=utc_now_iso(),
                    summary=answer.summary,
                    changes=list(answer.changes) if target == "changes_requested" else [],
                    answer_details=dict(answer.details),
                )
            event = review_event(system, review)
            snapshot = copy.deepcopy(review)
        if not deliver:
            return {"review": snapshot, "event": event, "queued": 0, "deliveries": []}
        dispatcher: WebhookDispatcher = request.app.state.webhooks
        sent = dispatch(dispatcher, f"/events/{system}", state.config.events_secret, event, wait=wait)
        return {"review": snapshot, **sent}

    return router, control_router
