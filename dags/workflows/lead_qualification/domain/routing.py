"""Which owner takes a lead: territory, segment, score band and load.

1. Owners who take the lead's **segment** (by company size) and **score band** (hot and warm leads go to
   account executives, cold ones to the nurture desk) are the pool.
2. Within the pool, the owners whose **territory** holds the lead's country come first, then the overflow
   owners (territory ``*``), then anyone in the pool: the first of these tiers with an owner **below
   capacity** is where the lead goes.
3. Among those, the owner with the lowest **load** (open leads, plus those routed to them earlier in the
   same batch, over capacity) wins; ties by owner id, so the same inputs always give the same owner.
4. When everyone is at capacity, the lead still goes to the least-loaded owner of the first tier with
   anyone in it, flagged ``over_capacity`` (a lead is never left without an owner).

A batch is routed hottest lead first, so the best-placed owners' room goes to the best leads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Segment = Literal["smb", "mid_market", "enterprise"]
Band = Literal["hot", "warm", "cold"]
Tier = Literal["territory", "overflow", "pool"]
ANYWHERE = "*"
MID_MARKET_FROM = 100  # employees
ENTERPRISE_FROM = 1000


class NoOwner(ValueError):
    """Nobody on the team takes leads of this band: the team's set-up is wrong, not the lead."""


class Owner(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    owner_id: str
    name: str
    email: str
    territories: list[str]
    segments: list[Segment]
    bands: list[Band]
    capacity: int = Field(ge=1)
    open_leads: int = Field(ge=0)
    active: bool = True


class RoutingDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    lead_id: str
    owner_id: str
    owner_name: str
    owner_email: str
    segment: Segment
    band: Band
    tier: Tier
    load_before: int
    capacity: int
    over_capacity: bool
    reason: str


def segment_for(company_size: int | None) -> Segment:
    """Unknown size counts as small: a company nobody could size is rarely an enterprise."""
    if company_size is None or company_size < MID_MARKET_FROM:
        return "smb"
    return "mid_market" if company_size < ENTERPRISE_FROM else "enterprise"


def _tiers(pool: Sequence[Owner], country: str | None) -> list[tuple[Tier, list[Owner]]]:
    territory = [o for o in pool if country and country in o.territories]
    overflow = [o for o in pool if ANYWHERE in o.territories and o not in territory]
    return [("territory", territory), ("overflow", overflow), ("pool", list(pool))]


def choose_owner(
    *,
    lead_id: str,
    country: str | None,
    segment: Segment,
    band: Band,
    owners: Sequence[Owner],
    assigned: Mapping[str, int],
) -> RoutingDecision:
    active = [o for o in owners if o.active]
    pool = [o for o in active if segment in o.segments and band in o.bands]
    if not pool:
        pool = [o for o in active if band in o.bands]
    if not pool:
        raise NoOwner(f"no active owner takes {band} leads")

    def load(owner: Owner) -> int:
        return owner.open_leads + assigned.get(owner.owner_id, 0)

    def rank(owner: Owner) -> tuple[float, int, str]:
        return (load(owner) / owner.capacity, load(owner), owner.owner_id)

    tiers = _tiers(pool, country)
    with_room = [(tier, [o for o in found if load(o) < o.capacity]) for tier, found in tiers]
    tier, candidates = next(((t, c) for t, c in with_room if c), next((t, c) for t, c in tiers if c))
    owner = min(candidates, key=rank)
    where = {
        "territory": f"{country} is in their territory",
        "overflow": f"no owner with room covers {country or 'an unknown country'}: overflow",
        "pool": f"no owner covers {country or 'an unknown country'}: anyone taking the segment",
    }[tier]
    over = load(owner) >= owner.capacity
    return RoutingDecision(
        lead_id=lead_id,
        owner_id=owner.owner_id,
        owner_name=owner.name,
        owner_email=owner.email,
        segment=segment,
        band=band,
        tier=tier,
        load_before=load(owner),
        capacity=owner.capacity,
        over_capacity=over,
        reason=(
            f"{owner.name}: {where}; takes {segment.replace('_', '-')} {band} leads; "
            f"{load(owner)} of {owner.capacity} open leads"
            + (" (over capacity: everyone is full)" if over else "")
        ),
    )


class LeadToRoute(BaseModel):
    model_config = ConfigDict(frozen=True)

    lead_id: str
    country: str | None
    company_size: int | None
    score: int = Field(ge=0, le=100)
    band: Band


def route_batch(leads: Sequence[LeadToRoute], owners: Sequence[Owner]) -> list[RoutingDecision]:
    """Route every lead of a batch, hottest first; each decision counts towards the owner's load."""
    assigned: Counter[str] = Counter()
    decisions = []
    for lead in sorted(leads, key=lambda item: (-item.score, item.lead_id)):
        decision = choose_owner(
            lead_id=lead.lead_id,
            country=lead.country,
            segment=segment_for(lead.company_size),
            band=lead.band,
            owners=owners,
            assigned=assigned,
        )
        assigned[decision.owner_id] += 1
        decisions.append(decision)
    return decisions
