"""What the deal desk is asked, and what the deal's owner is told."""

from __future__ import annotations

from include.domain.common import Message
from workflows.proposal_generation.domain.cpq import Quote
from workflows.proposal_generation.domain.document import money
from workflows.proposal_generation.domain.draft import Context, Deal


def approval_request(deal: Deal, quote: Quote) -> str:
    """The deal desk's view of the discount it is asked to approve."""
    cur = quote.currency
    lines = [
        f"Deal {deal.deal_id} ({deal.name}), owner {deal.owner_email}.",
        f"List {money(quote.list_total, cur)} -> proposed {money(quote.net_total, cur)}: "
        f"{quote.total_discount_pct:f} % off list.",
        "Needs approval because: " + "; ".join(quote.approval_reasons) + ".",
        "Lines: "
        + "; ".join(f"{line.quantity} x {line.sku} -> {money(line.net_amount, cur)}" for line in quote.lines),
    ]
    if quote.bundle:
        lines.append(f"{quote.bundle.name}: -{money(quote.bundle_savings, cur)}.")
    return "\n".join(lines)


def proposal_ready(
    deal: Deal, quote: Quote, *, uri: str, context: Context, approved_by: str | None, languages: str
) -> Message:
    cur = quote.currency
    body = [
        f"The proposal for {deal.name} (deal {deal.deal_id}) is ready ({languages}): {uri}",
        f"Total {money(quote.net_total, cur)} ({quote.total_discount_pct:f} % off a list of "
        f"{money(quote.list_total, cur)}).",
    ]
    if approved_by:
        body.append(f"The discount was approved by the deal desk ({approved_by}).")
    if context.status != "retrieved":
        body.append(f"The summary was drafted from the deal alone: {context.reason or context.status}.")
    body.append("Review it before it goes to the customer.")
    return Message(
        subject=f"Proposal ready: {deal.name} ({money(quote.net_total, cur)})", body="\n".join(body)
    )


def discount_not_approved(
    deal: Deal, quote: Quote, *, status: str, decided_by: str | None, comment: str | None
) -> Message:
    who = decided_by or "nobody in time"
    verb = "rejected" if status == "rejected" else "not decided"
    body = [
        f"The discount on the proposal for {deal.name} (deal {deal.deal_id}) was {verb} ({who}).",
        f"Proposed: {money(quote.net_total, quote.currency)}, {quote.total_discount_pct:f} % off list.",
    ]
    if comment:
        body.append(f"Deal desk: {comment}")
    body.append(
        "No proposal was produced; start a new one with a discount within your authority or a new case."
    )
    return Message(subject=f"Proposal discount {verb}: {deal.name}", body="\n".join(body))
