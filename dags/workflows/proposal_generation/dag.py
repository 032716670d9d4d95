"""
### Proposal generation (medium-lived orchestrated, 5-15 min)

**Deal data**: the CRM deal (`deal_id`) and the products asked for (`items`: SKUs of price book
`pb-2026.1` with quantities), the rep's extra discount (`requested_discount_pct`), the currency (USD, SAR,
AED) and the language (`en`, `ar` or `en+ar`). A closed deal, or products the CPQ rules refuse (an add-on
without the platform, more add-on seats than platform seats, a product twice, a quantity over its
maximum), fail the run before anything is recorded, with the field at fault (`items[1].quantity`).

-> **LLM draft** of the summary, with context retrieved from past proposals, term sheets, memos and
playbooks (knowledge retrieval, the function behind `GET /services/knowledge/search`). Where the knowledge
store is unavailable (503: no pgvector where it runs, or down), the draft is written from the deal alone and
the proposal's sources and the owner's notice say so: a sales proposal is not held up by the search index.
-> **CPQ pricing**: list price, volume tier per seat product (8 / 15 / 22 % from 50 / 250 / 1,000 seats),
the one bundle that saves most (Launch -8 %, Suite -5 %), then the rep's discount. Up to 10 % extra and 30 %
off list in total the rep decides; beyond either, **the deal desk approves** (`deal_desk`, Required Actions;
`approval_timeout_hours`). Rejected or not decided: the run ends there (no proposal) and the owner is told
why. -> **PDF** in English, Arabic (shaped right to left) or both, dated by the workflow's first day and
stored once by its hash -> **owner notified** with its link and totals.

Every side effect goes through the ledger (the LLM's drafts too: a retry replays them); nothing is undone
when a run fails (the spec lists no compensation for this workflow).

**Answer the discount**: Required Actions as `deal_desk` (or `admin`), or
`PATCH /api/v2/dags/proposal_generation/dagRuns/{run}/taskInstances/discount_approval/-1/hitlDetails`
`{"chosen_options": ["Approve"], "params_input": {"comment": "..."}}`.
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Param

from execution_plane.durable import (
    approval,
    complete,
    durable_workflow,
    id_param,
    routes,
    timeout_hours_param,
)
from workflows.proposal_generation import delivery, drafting, pricing
from workflows.proposal_generation.common import CHECK_TASK, DEAL_DESK, GATE, SKUS


@durable_workflow(
    doc_md=__doc__,
    tags=["sales", "deals"],
    request_id_description="Unique id of this proposal request (e.g. the CRM's quote id)",
    # A closed deal or a product list the rules refuse is refused before anything is registered.
    fails_before_effects=[CHECK_TASK],
    params={
        "deal_id": id_param("CRM deal id"),
        "items": Param(
            type="array",
            minItems=1,
            maxItems=len(SKUS),
            items={
                "type": "object",
                "properties": {
                    "sku": {"type": "string", "enum": list(SKUS)},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 100_000},
                },
                "required": ["sku", "quantity"],
                "additionalProperties": False,
            },
            description='Products and quantities, e.g. [{"sku": "EP-PLATFORM", "quantity": 300}]',
        ),
        "requested_discount_pct": Param(
            0,
            type="number",
            minimum=0,
            maximum=40,
            description="Extra discount on the subtotal (over 10: deal desk)",
        ),
        "currency": Param("USD", type="string", enum=["USD", "SAR", "AED"]),
        "language": Param(
            "en+ar", type="string", enum=["en", "ar", "en+ar"], description="Language(s) of the PDF"
        ),
        "valid_days": Param(
            30, type="integer", minimum=7, maximum=90, description="How long the prices hold"
        ),
        "approval_timeout_hours": timeout_hours_param(
            48, description="A discount the deal desk has not decided by then ends the proposal (expired)"
        ),
    },
)
def proposal_generation() -> None:
    checked = drafting.deal_data()
    context = drafting.retrieve_context(checked)
    drafted = drafting.draft(checked)
    context >> drafted
    priced = pricing.price(checked)
    drafted >> priced
    gate = approval(
        GATE,
        assignee=DEAL_DESK,
        timeout_param="approval_timeout_hours",
        default_hours=48,
        subject="Approve a {{ params.requested_discount_pct }} % discount for deal {{ params.deal_id }}?",
        body=priced["approval_request"],
        on_not_approved=pricing.record_discount_not_approved,
    )
    within = EmptyOperator(task_id=pricing.WITHIN_AUTHORITY)
    routes(priced, discount_approval=gate, within_authority=within)
    # Priced within the rep's authority, or approved by the deal desk: either leads on to the PDF.
    price_agreed = EmptyOperator(task_id="price_agreed", trigger_rule="one_success")
    gate.then(price_agreed, label="approved")
    within >> price_agreed
    rendered = delivery.render_pdf(checked)
    price_agreed >> rendered
    delivery.notify_owner(checked, rendered) >> complete()


proposal_generation()
