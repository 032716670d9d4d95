"""HRIS (Workday/Personio stand-in): a company's employees, and transfers of employees into another company's
organisation (the post-merger "employees mapped" step), reverted when an integration is rolled back.

Employees exist for any company id (derived deterministically: 3-5 people with a department, a title and an
email at the company's domain). A transfer moves some of them to the acquirer's organisation at once (a real
HRIS runs the bulk load synchronously for a few people); while a transfer is active its employees cannot be
transferred again (409 ``employee_already_transferred``). Reverting puts them back (``reverted``).
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, Field

from include.sandbox import derive
from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.state import new_id, utc_now_iso

router = provider_router("hris", "/hris/v1")

DEPARTMENTS = ("engineering", "sales", "finance", "operations", "people")
TITLES = ("Engineer", "Account Executive", "Accountant", "Operations Manager", "HR Partner")


def company_domain(company_id: str) -> str:
    return f"{company_id.lower().replace('_', '-').replace('.', '-')}.example"


def company_employees(company_id: str) -> list[dict[str, Any]]:
    """The company's employees: the same id always gives the same people."""
    count = 3 + int(derive.hex_digest("hris-headcount", company_id)[:6], 16) % 3
    people = []
    for n in range(1, count + 1):
        employee_id = f"{company_id}-E{n:03d}"
        name = derive.partner_profile(f"hris-{employee_id}")["name"]
        first, _, last = name.partition(" ")
        index = int(derive.hex_digest("hris-dept", employee_id)[:6], 16) % len(DEPARTMENTS)
        people.append(
            {
                "employee_id": employee_id,
                "company_id": company_id,
                "name": name,
                "email": f"{first.lower()}.{last.lower()}{n}@{company_domain(company_id)}",
                "department": DEPARTMENTS[index],
                "title": TITLES[index],
            }
        )
    return people


class TransferIn(BaseModel):
    from_company_id: str = Field(min_length=1, max_length=128)
    to_company_id: str = Field(min_length=1, max_length=128)
    employee_ids: list[str] = Field(min_length=1, max_length=500)
    effective_date: str = Field(min_length=10, max_length=32)
    reference: str = Field(min_length=1, max_length=300)


class RevertIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


def _transfer(resources: dict[str, dict[str, Any]], transfer_id: str) -> dict[str, Any]:
    transfer = resources["transfers"].get(transfer_id)
    if transfer is None:
        raise ProviderError(
            404, "transfer_not_found", f"transfer {transfer_id} not found", transfer_id=transfer_id
        )
    return transfer


def _active_employer(resources: dict[str, dict[str, Any]], employee_id: str) -> str | None:
    for transfer in resources["transfers"].values():
        if transfer["status"] == "completed" and employee_id in transfer["employee_ids"]:
            return str(transfer["to_company_id"])
    return None


@router.get("/companies/{company_id}/employees")
def list_employees(company_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        employees = [
            {**person, "employer_id": _active_employer(resources, person["employee_id"]) or company_id}
            for person in company_employees(company_id)
        ]
    return {"company_id": company_id, "employees": employees}


@router.post("/transfers", status_code=201)
def transfer_employees(body: TransferIn, call: CallDep) -> dict[str, Any]:
    known = {person["employee_id"] for person in company_employees(body.from_company_id)}
    unknown = sorted(set(body.employee_ids) - known)
    if unknown:
        raise ProviderError(
            422, "unknown_employees", f"not employees of {body.from_company_id}", employee_ids=unknown
        )
    with call.state.transaction() as resources:
        taken = sorted(e for e in body.employee_ids if _active_employer(resources, e) is not None)
        if taken:
            raise ProviderError(
                409, "employee_already_transferred", "employees are in an active transfer", employee_ids=taken
            )
        transfer = {
            "transfer_id": new_id("trf"),
            **body.model_dump(),
            "status": "completed",
            "created_at": utc_now_iso(),
            "reverted_at": None,
            "revert_reason": None,
        }
        resources["transfers"][transfer["transfer_id"]] = transfer
        call.record(transfer["transfer_id"], body.model_dump())
    return {
        "transfer_id": transfer["transfer_id"],
        "status": "completed",
        "employees": len(body.employee_ids),
    }


@router.get("/transfers/{transfer_id}")
def get_transfer(transfer_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_transfer(resources, transfer_id))


@router.post("/transfers/{transfer_id}/revert")
def revert_transfer(transfer_id: str, body: RevertIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        transfer = _transfer(resources, transfer_id)
        if transfer["status"] == "reverted":
            raise ProviderError(
                409, "already_reverted", "transfer is already reverted", transfer_id=transfer_id
            )
        transfer.update(status="reverted", reverted_at=utc_now_iso(), revert_reason=body.reason)
        call.record(transfer_id, body.model_dump())
        return {"transfer_id": transfer_id, "status": "reverted", "employees": len(transfer["employee_ids"])}
