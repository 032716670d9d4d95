"""The offer's price and structure, from the deal's due diligence when there is one.

**Basis.** The newest DD room of the deal with a valuation impact that was not archived (an archived room
is a DD that was rejected or stopped: no basis for an offer, and the offer is refused rather than priced
from the deal's nominal value). An IC-approved room (``closing``) goes before one still under review. No
DD room at all: the run's ``base_valuation_usd``.

**Price** = basis x (1 + premium), rounded down to USD 100,000.

**Structure** (all cash): cash at close + an escrow held ``ESCROW_MONTHS`` against warranty claims + an
earn-out. The escrow grows with the risk the DD found (its valuation cut): under 5 % -> 10 %, under 10 % ->
15 %, 10 % or more -> 20 %; without DD the risk is unknown -> 15 %. When the DD cut the valuation by 10 % or
more, half of that gap is offered as an earn-out on milestones: the seller can still earn what the DD
doubted, the buyer pays it only if it materialises.

**Revisions.** Counsel's and advisors' change requests move the terms (``details``: ``price_usd``,
``escrow_pct``, ``earn_out_usd``) and add their written changes to the offer's conditions. Two reviewers
asking for the same term: the buyer's safer value wins (the lower price, the larger escrow and earn-out).
A target's counter moves the price only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from include.domain.common import canonical_json, sha256_hex

ROUND_TO_USD = 100_000
ESCROW_MONTHS = 18
EARN_OUT_SHARE_OF_GAP = 0.5
EARN_OUT_FROM_CUT_PCT = 10.0
NO_DD_ESCROW_PCT = 15.0
STANDARD_CONDITIONS = (
    "Regulatory clearance of the transaction",
    "Definitive agreement signed by both parties",
    "No material adverse change before signing",
)


class NoOfferBasis(ValueError):
    """Nothing to price the offer from (no standing DD, no base valuation): the run's input is refused."""


class DdValuation(BaseModel):
    """One DD room of the deal, as dd_room recorded it (``dd_rooms`` + ``valuation_impacts``)."""

    model_config = ConfigDict(frozen=True)

    workflow_id: str
    status: str
    base_valuation_usd: float = Field(gt=0)
    adjusted_valuation_usd: float = Field(gt=0)
    total_adjustment_pct: float


class OfferBasis(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: Literal["dd_room", "params"]
    valuation_usd: float = Field(gt=0)
    dd_workflow_id: str | None = None
    dd_status: str | None = None
    dd_base_valuation_usd: float | None = None
    dd_adjustment_pct: float | None = None
    explanation: str


def choose_basis(rooms: Sequence[DdValuation], base_valuation_usd: float | None, deal_id: str) -> OfferBasis:
    """The basis of the offer (module docstring); ``rooms`` newest first."""
    standing = [room for room in rooms if room.status != "archived"]
    if standing:
        room = next((r for r in standing if r.status == "closing"), standing[0])
        return OfferBasis(
            source="dd_room",
            valuation_usd=room.adjusted_valuation_usd,
            dd_workflow_id=room.workflow_id,
            dd_status=room.status,
            dd_base_valuation_usd=room.base_valuation_usd,
            dd_adjustment_pct=room.total_adjustment_pct,
            explanation=(
                f"DD {room.workflow_id} ({room.status}): valuation USD {room.base_valuation_usd:,.0f} "
                f"adjusted by {room.total_adjustment_pct:g}% to USD {room.adjusted_valuation_usd:,.0f}"
            ),
        )
    if rooms:
        raise NoOfferBasis(
            f"the due diligence of deal {deal_id} was archived ({', '.join(r.workflow_id for r in rooms)}):"
            " no offer without a standing DD"
        )
    if base_valuation_usd is None or base_valuation_usd <= 0:
        raise NoOfferBasis(f"deal {deal_id} has no DD room: base_valuation_usd is required")
    return OfferBasis(
        source="params",
        valuation_usd=float(base_valuation_usd),
        explanation=f"no DD room for deal {deal_id}: base valuation USD {base_valuation_usd:,.0f}",
    )


def round_down(value: float) -> int:
    return max(ROUND_TO_USD, math.floor(value / ROUND_TO_USD) * ROUND_TO_USD)


def escrow_pct_for(basis: OfferBasis) -> float:
    if basis.source != "dd_room" or basis.dd_adjustment_pct is None:
        return NO_DD_ESCROW_PCT
    cut = abs(min(0.0, basis.dd_adjustment_pct))
    if cut < 5:
        return 10.0
    if cut < 10:
        return 15.0
    return 20.0


def earn_out_for(basis: OfferBasis) -> int:
    if basis.source != "dd_room" or basis.dd_adjustment_pct is None or basis.dd_base_valuation_usd is None:
        return 0
    if -basis.dd_adjustment_pct < EARN_OUT_FROM_CUT_PCT:
        return 0
    gap = basis.dd_base_valuation_usd - basis.valuation_usd
    return math.floor(gap * EARN_OUT_SHARE_OF_GAP / ROUND_TO_USD) * ROUND_TO_USD


class OfferTerms(BaseModel):
    """One version of the offer: what the board approves, the target receives and the parties sign."""

    model_config = ConfigDict(frozen=True)

    deal_id: str
    target_company: str
    acquirer: str
    version: int = Field(ge=1)
    price_usd: int = Field(gt=0)
    cash_at_close_usd: int = Field(ge=0)
    escrow_pct: float = Field(ge=0, le=50)
    escrow_usd: int = Field(ge=0)
    escrow_months: int = ESCROW_MONTHS
    earn_out_usd: int = Field(ge=0)
    consideration: Literal["cash"] = "cash"
    conditions: tuple[str, ...] = STANDARD_CONDITIONS
    basis: str
    changes: tuple[str, ...] = ()
    issued_on: date

    @property
    def terms(self) -> dict[str, Any]:
        """The terms as signed (what the approval token is bound to): no dates, no history."""
        return self.model_dump(mode="json", exclude={"basis", "changes", "issued_on"})

    @property
    def terms_sha256(self) -> str:
        return sha256_hex(canonical_json(self.terms))


def _structured(price_usd: int, escrow_pct: float, **fields: Any) -> dict[str, Any]:
    escrow = round(price_usd * escrow_pct / 100)
    return {
        "price_usd": price_usd,
        "escrow_pct": escrow_pct,
        "escrow_usd": escrow,
        "cash_at_close_usd": price_usd - escrow,
        **fields,
    }


def price_offer(
    basis: OfferBasis,
    *,
    premium_pct: float,
    deal_id: str,
    target_company: str,
    acquirer: str,
    issued_on: date,
) -> OfferTerms:
    """Version 1 of the offer (module docstring)."""
    price = round_down(basis.valuation_usd * (1 + premium_pct / 100))
    premium = f" with a {premium_pct:g}% premium" if premium_pct else ""
    return OfferTerms(
        deal_id=deal_id,
        target_company=target_company,
        acquirer=acquirer,
        version=1,
        basis=f"{basis.explanation}{premium}",
        issued_on=issued_on,
        earn_out_usd=earn_out_for(basis),
        **_structured(price, escrow_pct_for(basis)),
    )


class ReviewerChange(BaseModel):
    """What one reviewer asked to change (the ``details`` it sent may move the numbers)."""

    model_config = ConfigDict(frozen=True)

    reviewer: str
    summary: str = ""
    changes: tuple[str, ...] = ()
    price_usd: int | None = Field(default=None, gt=0)
    escrow_pct: float | None = Field(default=None, ge=0, le=50)
    earn_out_usd: int | None = Field(default=None, ge=0)


def revise_offer(terms: OfferTerms, requests: Sequence[ReviewerChange], *, issued_on: date) -> OfferTerms:
    """The next version after change requests (module docstring)."""
    prices = [r.price_usd for r in requests if r.price_usd is not None]
    escrows = [r.escrow_pct for r in requests if r.escrow_pct is not None]
    earn_outs = [r.earn_out_usd for r in requests if r.earn_out_usd is not None]
    price = min(prices) if prices else terms.price_usd
    escrow_pct = max(escrows) if escrows else terms.escrow_pct
    earn_out = max(earn_outs) if earn_outs else terms.earn_out_usd
    conditions = list(terms.conditions)
    for request in requests:
        conditions += [c for c in request.changes if c not in conditions]
    applied = [f"{r.reviewer}: {r.summary or '; '.join(r.changes) or 'changes requested'}" for r in requests]
    return terms.model_copy(
        update={
            "version": terms.version + 1,
            "earn_out_usd": earn_out,
            "conditions": tuple(conditions),
            "changes": tuple(applied),
            "issued_on": issued_on,
            **_structured(price, escrow_pct),
        }
    )


def countered_offer(terms: OfferTerms, counter_price_usd: int, note: str, *, issued_on: date) -> OfferTerms:
    """The next version at the target's counter price (structure kept in proportion)."""
    change = f"target countered at USD {counter_price_usd:,}" + (f": {note}" if note else "")
    return terms.model_copy(
        update={
            "version": terms.version + 1,
            "changes": (change,),
            "issued_on": issued_on,
            **_structured(counter_price_usd, terms.escrow_pct),
        }
    )
