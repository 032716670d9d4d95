"""Where the offer goes after each answer: the reviewers' round, the regulator's decision, the target's
response.

**Reviews** (counsel and financial advisors, in parallel, both waited for): both opinions issued -> board
approval; a change requested by either -> a new version reviewed by both in the next round, at most
``max_review_rounds``; a reviewer silent past the deadline -> the offer expires.

**Regulator**: cleared -> the target's answer; cleared with conditions -> the board decides whether the
remedies are acceptable; refused -> the offer ends (rejected).

**Target response**: accepted -> signing at the offered price. A counter at or below the board-approved
price plus ``board_threshold_pct`` is within the board's mandate: the deal team agrees and it goes to
signing at the counter price. A counter beyond it goes back to the board (a new version at the counter
price, a revised offer if approved, a new round), at most ``max_counter_rounds`` target answers: a counter
past the threshold in the last round ends the negotiation. Rejected, no answer in time, or an answer that
cannot be read -> the offer ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

REVIEW_OPINION = "review.opinion_issued"
REVIEW_CHANGES = "review.changes_requested"

ReviewStep = Literal["board_approval", "next_round", "rounds_exhausted", "expired"]
RegulatorStep = Literal["target_response", "conditions_review", "refused", "expired"]
TargetStep = Literal["signing", "board_approval", "rounds_exhausted", "rejected", "expired"]


class ReviewOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    reviewer: str
    status: Literal["opinion_issued", "changes_requested", "timed_out"]
    summary: str = ""
    changes: tuple[str, ...] = ()
    details: dict[str, Any] = Field(default_factory=dict)
    event_id: str | None = None


def review_outcome(reviewer: str, wait_outcome: dict[str, Any]) -> ReviewOutcome:
    """A reviewer's answer from its wait's outcome (the inbox row: the firm's answer is its body's
    payload)."""
    if wait_outcome.get("status") != "received":
        return ReviewOutcome(reviewer=reviewer, status="timed_out")
    event = wait_outcome["event"]
    body = event.get("payload") or {}
    answer = body.get("payload") if isinstance(body, dict) else None
    answer = answer if isinstance(answer, dict) else {}
    changes = answer.get("changes") or []
    details = answer.get("details")
    return ReviewOutcome(
        reviewer=reviewer,
        status="opinion_issued" if event["event_type"] == REVIEW_OPINION else "changes_requested",
        summary=str(answer.get("summary") or "")[:1000],
        changes=tuple(str(c)[:500] for c in changes if str(c).strip()) if isinstance(changes, list) else (),
        details=details if isinstance(details, dict) else {},
        event_id=event.get("event_id"),
    )


def reviews_next_step(outcomes: Sequence[ReviewOutcome], round_no: int, max_rounds: int) -> ReviewStep:
    if any(o.status == "timed_out" for o in outcomes):
        return "expired"
    if all(o.status == "opinion_issued" for o in outcomes):
        return "board_approval"
    return "next_round" if round_no < max_rounds else "rounds_exhausted"


def regulator_next_step(status: str | None) -> RegulatorStep:
    """``status``: the filing's decision (``cleared`` / ``cleared_with_conditions`` / ``refused``), None when
    the wait ran out."""
    steps: dict[str | None, RegulatorStep] = {
        "cleared": "target_response",
        "cleared_with_conditions": "conditions_review",
        "refused": "refused",
        None: "expired",
    }
    return steps[status]


class TargetResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["accept", "counter", "reject"]
    price_usd: int | None = Field(default=None, gt=0)
    note: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _counter_names_a_price(self) -> TargetResponse:
        if self.kind == "counter" and self.price_usd is None:
            raise ValueError("a counter-offer names its price_usd")
        return self


def target_response(wait_outcome: dict[str, Any]) -> TargetResponse | None:
    """The target's answer from its wait's outcome; None when the wait ran out. An answer that cannot be
    read is the target's, not ours: it counts as a rejection with the reason kept."""
    if wait_outcome.get("status") != "received":
        return None
    event = wait_outcome["event"]
    body = event.get("payload") or {}
    answer = body.get("payload") if isinstance(body, dict) else None
    answer = answer if isinstance(answer, dict) else {}
    kind = {"offer.accepted": "accept", "offer.countered": "counter", "offer.rejected": "reject"}[
        event["event_type"]
    ]
    try:
        return TargetResponse.model_validate({**answer, "kind": kind})
    except ValueError as exc:
        return TargetResponse(kind="reject", note=f"unreadable answer: {exc}"[:1000])


def within_mandate(board_price_usd: int, counter_price_usd: int, threshold_pct: float) -> bool:
    """A counter the deal team may agree without the board: at most ``threshold_pct`` above its price."""
    return counter_price_usd <= board_price_usd * (1 + threshold_pct / 100)


def target_next_step(
    response: TargetResponse | None,
    *,
    board_price_usd: int,
    threshold_pct: float,
    round_no: int,
    max_rounds: int,
) -> TargetStep:
    if response is None:
        return "expired"
    if response.kind == "accept":
        return "signing"
    if response.kind == "reject":
        return "rejected"
    assert response.price_usd is not None
    if within_mandate(board_price_usd, response.price_usd, threshold_pct):
        return "signing"
    return "board_approval" if round_no < max_rounds else "rounds_exhausted"
