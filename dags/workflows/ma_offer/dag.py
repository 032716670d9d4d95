"""
### M&A offer and negotiation (long-lived durable, 2-12 weeks)

**Offer prepared**: the price and structure come from the deal's due diligence (`dd_rooms` +
`valuation_impacts` of `deal_id`: the newest room not archived, an IC-approved one first) or, for a deal
without DD, from `base_valuation_usd`; a deal whose DD was archived (rejected or stopped) gets no offer:
the run fails at once, nothing recorded or sent. Price = basis x (1 + `offer_premium_pct`), all cash, with
an escrow that grows with the risk the DD found and an earn-out bridging a DD cut of 10 % or more (rules in
`domain/pricing.py`). The offer is recorded (`ma_offers`, `ma_offer_versions`, the offer letter PDF stored
once by content hash), its **deal room** opened, the CRM deal set to `offer_preparation`.
-> **Counsel and financial-advisor reviews, in parallel** (`review_<n>`): each firm gets the letter through
its API and answers by webhook (`review.opinion_issued` or `review.changes_requested`); both are waited for
(holding nothing, until `review_timeout_hours`). Both opinions -> the board. A change requested by either
returns to preparation: a new version with the changes (numbers the firm names in `details`: `price_usd`,
`escrow_pct`, `earn_out_usd`; its written changes become conditions), reviewed by both again, at most
`max_review_rounds`.
-> **Board approval** (pause, `board`; expires after `approval_timeout_hours`).
-> **Offer sent** to the target's contact (email, once: the commitment).
-> **Regulatory filing** through the regulator's portal (`merger_control`, `regulator_jurisdiction`), once;
waits for the **acknowledgement** (`regulator_ack_timeout_hours`), then the **decision**
(`regulator_decision_timeout_hours`): cleared -> the target is asked; **cleared with conditions** -> the
board decides whether to accept the remedies (`conditions_review`; accepted conditions become terms of the
signed deal); refused -> the offer ends. `ma_offer_filing_poller` (every 10 minutes) finds a decision whose
webhook was lost.
-> **Target response** (`negotiation_<n>`; `target_response_timeout_hours` per round): accept -> signing at
the offered price; a **counter** at most `board_threshold_pct` above the board's price is within the
board's mandate and agreed (signing at the counter price); a counter beyond it goes **back to the board**
(a new version at the counter price; approved -> a revised offer, the next round), at most
`max_counter_rounds` answers; reject, out of rounds or no answer in time -> the offer ends.
-> **Signing** through `signature_commitment` as a **child run** (started once with ids derived from this
workflow; the agreed terms with an approval token issued for them by the `approval_token` connection's
secret, signed by the target's contact): waited for holding nothing (`signing_timeout_hours`; the child's own
waits are `signature_timeout_hours` and `renegotiation_timeout_hours`) -> **close**: CRM deal `signed`, the
target told.

**Rejected, expired, refused, not signed or failed**: the run ends failed with the reason in its note, and
`saga_compensation` undoes what was done, newest first: a signature still out is voided **through the
child's own compensation**; the **regulatory filing is withdrawn** where something is pending (a refused
filing is closed already); the target is told **once** that the **offer is withdrawn** (only if it was sent;
one notice covers every version); reviews still open are cancelled; the **deal room is archived**; the CRM
deal becomes `offer_withdrawn`; the record ends withdrawn. A signed offer is never withdrawn by a later
failure: the close only moves forward.

**Answer**: the board on Required Actions (`board_approval`, `conditions_review`,
`negotiation_<n>.board_approval`) or `PATCH .../hitlDetails` as `board`. Outside events (signed webhooks
`POST /webhooks/events/<source>`): counsel/advisor `review.opinion_issued|review.changes_requested` with
correlation key `ma_offer:<request_id>:review:<counsel|advisor>:<round>`; regulator
`filing.acknowledged|cleared|cleared_with_conditions|refused` with `ma_offer:<request_id>:filing`; target
(`source` `target`) `offer.accepted|offer.countered` (payload `price_usd`, `note`)`|offer.rejected` with
`ma_offer:<request_id>:response:<round>`. **Start**: the trigger form or `POST /api/v2/dags/ma_offer/dagRuns`.
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Param, TaskGroup

from execution_plane.durable import (
    approval,
    complete,
    durable_workflow,
    id_param,
    routes,
    timeout_hours_param,
    wait_for_child,
    wait_for_event,
)
from workflows.ma_offer import endings, negotiation, offer, regulatory, reviews, signing
from workflows.ma_offer.common import (
    BOARD,
    FILING_DECISIONS,
    MAX_COUNTER_ROUNDS,
    MAX_REVIEW_ROUNDS,
    REVIEW_EVENTS,
    TARGET_RESPONSES,
)

SUBJECT = "offer to acquire {{ params.target_company }} (deal {{ params.deal_id }})"


@durable_workflow(
    doc_md=__doc__,
    tags=["ma", "deals"],
    request_id_description="Unique id of this offer (e.g. the CRM's offer id): one request, one offer",
    # The basis is read before anything is registered or sent: its refusal has nothing to compensate.
    fails_before_effects=["offer_basis"],
    params={
        "deal_id": id_param("CRM deal id (its DD room, if any, gives the valuation)"),
        "target_id": id_param("CRM id of the target company (the counterparty that signs)"),
        "target_company": Param(type="string", minLength=1, maxLength=200),
        "target_contact_email": Param(type="string", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", maxLength=254),
        "target_contact_name": Param(type="string", minLength=1, maxLength=200),
        "acquirer": Param("Execution Plane Holdings", type="string", minLength=1, maxLength=200),
        "base_valuation_usd": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            description="Valuation for a deal without DD room (ignored when the deal has one)",
        ),
        "offer_premium_pct": Param(0, type="number", minimum=-50, maximum=100),
        "board_threshold_pct": Param(
            5,
            type="number",
            minimum=0,
            maximum=100,
            description="A counter above the board's price by more than this goes back to the board",
        ),
        "regulator_jurisdiction": Param("EU", type="string", pattern=r"^[A-Z]{2,8}$"),
        "max_review_rounds": Param(MAX_REVIEW_ROUNDS, type="integer", minimum=1, maximum=MAX_REVIEW_ROUNDS),
        "max_counter_rounds": Param(
            MAX_COUNTER_ROUNDS, type="integer", minimum=1, maximum=MAX_COUNTER_ROUNDS
        ),
        "review_timeout_hours": timeout_hours_param(336, max_days=60),
        "approval_timeout_hours": timeout_hours_param(
            168, description="Each board decision expires after this"
        ),
        "regulator_ack_timeout_hours": timeout_hours_param(336, max_days=60),
        "regulator_decision_timeout_hours": timeout_hours_param(1440, max_days=180),
        "target_response_timeout_hours": timeout_hours_param(336, max_days=60),
        "signing_timeout_hours": timeout_hours_param(
            192, max_days=60, description="How long the offer waits for the signing child's outcome"
        ),
        "signature_timeout_hours": timeout_hours_param(168, description="The signing child's signature wait"),
        "renegotiation_timeout_hours": timeout_hours_param(72, description="The signing child's choice wait"),
    },
)
def ma_offer() -> None:
    basis = offer.offer_basis()
    opened = offer.open_offer(basis)

    # Reviews: counsel and advisors on each version in parallel; a change requested opens the next round.
    previous = None
    reviewed = []
    for round_no in range(1, MAX_REVIEW_ROUNDS + 1):
        with TaskGroup(group_id=f"review_{round_no}", tooltip=f"Review round {round_no}"):
            version = offer.prepare_offer(basis, round_no, previous)
            asked = reviews.request_reviews(version, round_no)
            counsel = wait_for_event(
                "counsel_review",
                correlation_key=asked["counsel_key"],
                event_types=REVIEW_EVENTS,
                timeout_at=asked["respond_by"],
            )
            advisor = wait_for_event(
                "advisor_review",
                correlation_key=asked["advisor_key"],
                event_types=REVIEW_EVENTS,
                timeout_at=asked["respond_by"],
            )
            asked >> [counsel, advisor]
            routed = reviews.route_reviews(counsel.output, advisor.output, round_no)
            signed_off = EmptyOperator(task_id="signed_off")
            routes(routed, board_approval=signed_off, otherwise=reviews.reviews_ended(routed, round_no))
        if previous is None:
            opened >> version
        else:
            routes(previous, next_round=version)
        previous = routed
        reviewed.append(signed_off)

    brief = offer.board_brief()
    reviewed >> brief
    board = approval(
        "board_approval",
        assignee=BOARD,
        subject=f"Board approval: {SUBJECT}?",
        body=brief["body"],
        on_not_approved=endings.record_not_approved,
    )
    brief >> board
    sent = board.then(offer.send_offer())

    # Regulatory filing: acknowledgement, then the decision (weeks; the poller covers a lost webhook).
    filing = regulatory.file_with_regulator(sent)
    acknowledged = wait_for_event(
        "regulator_acknowledgement",
        correlation_key=filing["correlation_key"],
        event_types=("filing.acknowledged", *FILING_DECISIONS),
        timeout_at=filing["ack_by"],
    )
    acked = regulatory.record_acknowledgement(acknowledged.output, filing)
    decided = wait_for_event(
        "regulator_decision",
        correlation_key=acked["correlation_key"],
        event_types=FILING_DECISIONS,
        timeout_at=acked["decide_by"],
    )
    not_acknowledged = regulatory.regulatory_ended.override(task_id="not_acknowledged")(acked)
    routes(acked, regulator_decision=decided, otherwise=not_acknowledged)
    ruled = regulatory.route_decision(decided.output)
    cleared = EmptyOperator(task_id="cleared")
    conditions = approval(
        "conditions_review",
        assignee=BOARD,
        subject=f"Regulatory conditions: accept them for the {SUBJECT}?",
        body=ruled["conditions_brief"],
        on_not_approved=endings.record_not_approved,
    )
    accepted = conditions.then(negotiation.accept_conditions())
    routes(
        ruled,
        target_response=cleared,
        conditions_review=conditions,
        otherwise=regulatory.regulatory_ended(ruled),
    )

    # Target response rounds: a counter beyond the board's mandate returns to the board (a new round).
    previous = None
    agreements = []
    for round_no in range(1, MAX_COUNTER_ROUNDS + 1):
        with TaskGroup(group_id=f"negotiation_{round_no}", tooltip=f"Negotiation round {round_no}"):
            if previous is None:
                asked = negotiation.request_response()
                [cleared, accepted] >> asked
            else:
                board_again = approval(
                    "board_approval",
                    stage=f"board_approval_r{round_no}",
                    assignee=BOARD,
                    subject=f"Board approval of the target's counter (round {round_no}): {SUBJECT}?",
                    body=previous["board_brief"],
                    on_not_approved=endings.record_not_approved,
                )
                asked = board_again.then(offer.send_revised_offer(round_no))
            answer = wait_for_event(
                "target_response",
                correlation_key=asked["correlation_key"],
                event_types=TARGET_RESPONSES,
                timeout_at=asked["respond_by"],
            )
            asked >> answer
            routed = negotiation.route_response(answer.output, round_no)
            agreed = EmptyOperator(task_id="agreed")
            routes(routed, signing=agreed, otherwise=negotiation.negotiation_ended(routed, round_no))
        if previous is not None:
            routes(previous, board_approval=board_again)
        previous = routed
        agreements.append(agreed)

    # Signing: signature_commitment as a child run, waited for holding nothing.
    started = signing.start_signing()
    agreements >> started
    outcome = wait_for_child("signing_outcome", started=started, timeout_at=started["wait_until"])
    signed = signing.route_signing(outcome.output)
    closed = signing.close_deal()
    routes(signed, close=closed, otherwise=signing.signing_ended(signed))
    closed >> complete()


ma_offer()
