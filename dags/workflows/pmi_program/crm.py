"""CRM on Day 1: the target's customer records merged under the acquirer, then each customer told.

Undo: the records separated again (unmerged); each customer told is on the list told once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execution_plane.saga.compensations import Compensation, compensation
from workflows.pmi_program.common import separated

if TYPE_CHECKING:
    from execution_plane.durable import Run
    from execution_plane.saga.steps import Saga


def integrate(run: Run, plan: dict[str, Any], day1: dict[str, Any]) -> dict[str, Any]:
    from execution_plane.hooks.crm import CrmHook
    from workflows.pmi_program.domain import IntegrationPlan, customer_notice

    p = IntegrationPlan.model_validate(plan)
    saga = run.saga
    ids = [c.customer_id for c in p.customers]
    people = [{"email": c.email, "name": c.contact_name} for c in p.customers]
    with CrmHook() as hook:
        merged = saga.call(
            "crm.merge",
            side_effect="crm.merge_customers",
            request={"customer_ids": ids, "into": p.acquirer_company_id},
            call=lambda key: hook.merge_customers(
                from_company_id=p.target_company_id,
                into_company_id=p.acquirer_company_id,
                customer_ids=ids,
                idempotency_key=key,
            ),
            compensation=lambda r: Compensation(
                "pmi_program.unmerge_customers",
                {"merge_id": r["merge_id"], "target": p.target_company, "people": people},
            ),
        )
    for customer in p.customers:
        message = customer_notice(p, customer)
        saga.send_message(
            f"crm.notice.{customer.customer_id}",
            channel="email",
            to=customer.email,
            template="pmi_customer_notice",
            subject=message.subject,
            body=message.body,
        )
    return {"merge_id": merged["merge_id"], "customers": len(ids), "notified": len(ids)}


@compensation("pmi_program.unmerge_customers")
def unmerge_customers(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    from execution_plane.hooks.crm import CrmHook

    with CrmHook() as hook:
        result = hook.unmerge_customers(args["merge_id"], reason=reason, idempotency_key=key)
    separated(
        saga,
        "crm",
        args["people"],
        f"your account is separated again: {args['target']} serves it as before",
        role="customer",
    )
    return result


def facts(plan: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """CRM's checklist facts: the merge as the CRM holds it, how many customers were told."""
    from execution_plane.hooks.crm import CrmHook

    result = row.get("result") or {}
    merge = None
    if result.get("merge_id"):
        with CrmHook() as hook:
            merge = hook.get_customer_merge(result["merge_id"])["status"]
    return {"merge": merge, "customers": len(plan["customers"]), "notified": int(result.get("notified") or 0)}
