"""CPQ pricing, and the deal desk's approval of a discount above the rep's authority.

``price`` computes the quote from the price book (``domain.cpq``: volume tiers, the best bundle, the rep's
discount), records it once with the proposal and routes: within the rep's authority straight to the PDF,
above it to the deal desk's gate (``discount_approval``, answered by ``deal_desk``). A discount the deal desk
rejects, or does not decide within ``approval_timeout_hours``, ends the run (rejected / expired): no
proposal is produced, and the deal's owner is told why, once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from execution_plane.durable import Run, routed_step
from workflows.proposal_generation.common import GATE, proposal_row

WITHIN_AUTHORITY = "within_authority"


def _quote(run: Run) -> Any:
    from workflows.proposal_generation.domain import Item, price

    params = run.params
    items = [Item.model_validate(item) for item in params["items"]]
    return price(
        items,
        requested_discount_pct=Decimal(str(params["requested_discount_pct"])),
        currency=str(params["currency"]),
    )


@routed_step
def price(run: Run, checked: dict[str, Any]) -> dict[str, Any]:
    from workflows.proposal_generation.domain import Deal, approval_request

    deal = Deal.model_validate(checked["deal"])
    quote = _quote(run)
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE proposals SET quote = %s::jsonb, list_total = %s, net_total = %s, discount_pct = %s,"
                " approval_status = %s, status = 'priced', updated_at = now() WHERE workflow_id = %s",
                (
                    quote.model_dump_json(),
                    quote.list_total,
                    quote.net_total,
                    quote.total_discount_pct,
                    "pending" if quote.needs_approval else "not_needed",
                    saga.workflow_id,
                ),
            )
            return {
                **quote.summary(),
                "next": GATE if quote.needs_approval else WITHIN_AUTHORITY,
                "approval_request": approval_request(deal, quote) if quote.needs_approval else "",
            }

        return saga.db_write("price", write, request={"quote": quote.summary()})


def record_discount_not_approved(run: Run, decision: dict[str, Any]) -> None:
    """The deal desk rejected the discount, or nobody decided in time: the proposal ends here, its owner
    told once why."""
    from execution_plane.hooks.crm import CrmHook
    from workflows.proposal_generation.domain import Deal, Quote, discount_not_approved

    saga = run.saga
    status = "expired" if decision.get("status") == "expired" else "rejected"
    with saga.conn() as conn, conn.cursor() as cur:
        row = proposal_row(cur, saga.workflow_id)
        cur.execute(
            "UPDATE proposals SET status = %s, approval_status = %s, reason = %s, updated_at = now()"
            " WHERE workflow_id = %s",
            (status, status, decision.get("comment") or f"discount {status}", saga.workflow_id),
        )
    with CrmHook() as crm:
        deal = Deal.model_validate(crm.get_deal(row["deal_id"]))
    quote = Quote.model_validate(row["quote"])
    message = discount_not_approved(
        deal, quote, status=status, decided_by=decision.get("decided_by"), comment=decision.get("comment")
    )
    saga.send_message(
        "discount_not_approved",
        channel="email",
        to=deal.owner_email,
        template=f"proposal_discount_{status}",
        subject=message.subject,
        body=message.body,
    )
