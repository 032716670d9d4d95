"""CRM customer records (the same CRM as ``crm``: one system, one idempotency scope, one effect log): a
company's customers, merged into another company's records after an acquisition and unmerged on a rollback.

Customers exist for any company id (derived: 2-4 accounts with a contact email). A merge moves customer
records under the acquirer (``merged_into``) at once; a record in an active merge cannot be merged again
(409 ``customer_already_merged``). Unmerging separates them again (409 ``already_unmerged`` the second time).
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, Field

from include.sandbox import derive
from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.state import new_id, utc_now_iso

router = provider_router("crm", "/crm/v1")


def company_customers(company_id: str) -> list[dict[str, Any]]:
    count = 2 + int(derive.hex_digest("crm-customers", company_id)[:6], 16) % 3
    customers = []
    for n in range(1, count + 1):
        customer_id = f"{company_id}-K{n:03d}"
        profile = derive.partner_profile(f"crm-customer-{customer_id}")
        customers.append(
            {
                "customer_id": customer_id,
                "company_id": company_id,
                "name": profile["company"],
                "contact_name": profile["name"],
                "email": f"buyer{n}@{customer_id.lower()}.example",
            }
        )
    return customers


class MergeIn(BaseModel):
    from_company_id: str = Field(min_length=1, max_length=128)
    into_company_id: str = Field(min_length=1, max_length=128)
    customer_ids: list[str] = Field(min_length=1, max_length=1000)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


def _merge(resources: dict[str, dict[str, Any]], merge_id: str) -> dict[str, Any]:
    merge = resources["customer_merges"].get(merge_id)
    if merge is None:
        raise ProviderError(404, "merge_not_found", f"merge {merge_id} not found", merge_id=merge_id)
    return merge


def _merged_into(resources: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {
        customer_id: merge["into_company_id"]
        for merge in resources["customer_merges"].values()
        if merge["status"] == "merged"
        for customer_id in merge["customer_ids"]
    }


@router.get("/customers")
def list_customers(company_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        merged = _merged_into(resources)
    customers = [{**c, "merged_into": merged.get(c["customer_id"])} for c in company_customers(company_id)]
    return {"company_id": company_id, "customers": customers}


@router.post("/customer-merges", status_code=201)
def merge_customers(body: MergeIn, call: CallDep) -> dict[str, Any]:
    known = {c["customer_id"] for c in company_customers(body.from_company_id)}
    unknown = sorted(set(body.customer_ids) - known)
    if unknown:
        raise ProviderError(
            422, "unknown_customers", f"not customers of {body.from_company_id}", customer_ids=unknown
        )
    with call.state.transaction() as resources:
        taken = sorted(set(body.customer_ids) & set(_merged_into(resources)))
        if taken:
            raise ProviderError(
                409, "customer_already_merged", "customers are merged already", customer_ids=taken
            )
        merge = {
            "merge_id": new_id("mrg"),
            **body.model_dump(),
            "status": "merged",
            "merged_at": utc_now_iso(),
            "unmerged_at": None,
        }
        resources["customer_merges"][merge["merge_id"]] = merge
        call.record(merge["merge_id"], body.model_dump())
    return {"merge_id": merge["merge_id"], "status": "merged", "merged": len(body.customer_ids)}


@router.get("/customer-merges/{merge_id}")
def get_customer_merge(merge_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_merge(resources, merge_id))


@router.post("/customer-merges/{merge_id}/unmerge")
def unmerge_customers(merge_id: str, body: ReasonIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        merge = _merge(resources, merge_id)
        if merge["status"] == "unmerged":
            raise ProviderError(409, "already_unmerged", "records are separated already", merge_id=merge_id)
        merge.update(status="unmerged", unmerged_at=utc_now_iso(), reason=body.reason)
        call.record(merge_id, body.model_dump())
        return {"merge_id": merge_id, "status": "unmerged", "separated": len(merge["customer_ids"])}
