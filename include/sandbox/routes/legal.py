"""Legal entity management (entity registry + contract repository stand-in): a company's legal entity and its
contracts, the filing that puts the entity under a new parent, and contract assignments to another entity.

An entity and its contracts exist for any entity id (derived: jurisdiction, counsel's email, 2-4 contracts
with a counterparty each, most of them assignable). A parent change is ``filed`` with the companies registry,
which decides later: ``/_sandbox/legal/parent-changes/{id}/register|refuse`` plays the registry and sends the
signed ``parent_change.registered`` / ``parent_change.refused`` webhook to ``{base}/events/legal`` with the
filing's correlation key. Reverting a parent change withdraws a filed one or files the way back for a
registered one (``reverted``); a refused one is closed (409 ``parent_change_not_revertible``). An assignment
moves assignable contracts to another entity at once (409 ``contract_not_assignable``, 409
``contract_already_assigned``); reverting moves them back.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from include.sandbox import derive
from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.provider_acts import settle_and_tell
from include.sandbox.state import new_id, stable_id, utc_now_iso

router = provider_router("legal", "/legal/v1")
control_router = APIRouter(prefix="/_sandbox/legal", tags=["sandbox control"])

EVENTS_PATH = "/events/legal"
JURISDICTIONS = ("DE", "GB", "US-DE", "NL", "FR")
CONTRACT_TITLES = ("Master services agreement", "Office lease", "Supply agreement", "Software licence")
RegistryAction = Literal["register", "refuse"]
_TARGET_STATUS = {"register": "registered", "refuse": "refused"}


def _n(*parts: object) -> int:
    return int(derive.hex_digest(*parts)[:8], 16)


def entity_record(entity_id: str) -> dict[str, Any]:
    domain = f"{entity_id.lower().replace('_', '-').replace('.', '-')}.example"
    return {
        "entity_id": entity_id,
        "name": derive.partner_profile(f"legal-{entity_id}")["company"],
        "jurisdiction": JURISDICTIONS[_n("legal-jur", entity_id) % len(JURISDICTIONS)],
        "parent_id": None,
        "counsel_email": f"legal@{domain}",
    }


def entity_contracts(entity_id: str) -> list[dict[str, Any]]:
    contracts = []
    for n in range(1, 3 + _n("legal-contracts", entity_id) % 3):
        counterparty = derive.partner_profile(f"legal-cp-{entity_id}-{n}")
        contracts.append(
            {
                "contract_id": f"{entity_id}-C{n:02d}",
                "title": CONTRACT_TITLES[_n("legal-title", entity_id, n) % len(CONTRACT_TITLES)],
                "counterparty": counterparty["company"],
                "counterparty_email": f"contracts{n}@{counterparty['partner_id'].lower()}.example",
                # One in four needs the counterparty's consent first: it is not assigned on Day 1.
                "assignable": _n("legal-assignable", entity_id, n) % 4 != 0,
            }
        )
    return contracts


class ParentChangeIn(BaseModel):
    entity_id: str = Field(min_length=1, max_length=128)
    new_parent_id: str = Field(min_length=1, max_length=128)
    effective_date: str = Field(min_length=10, max_length=32)
    correlation_key: str = Field(min_length=1, max_length=300)


class AssignmentIn(BaseModel):
    from_entity_id: str = Field(min_length=1, max_length=128)
    to_entity_id: str = Field(min_length=1, max_length=128)
    contract_ids: list[str] = Field(min_length=1, max_length=200)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


def _get(resources: dict[str, dict[str, Any]], kind: str, item_id: str, what: str) -> dict[str, Any]:
    item = resources[kind].get(item_id)
    if item is None:
        raise ProviderError(404, f"{what}_not_found", f"{what} {item_id} not found", id=item_id)
    return item


def _registered_parent(resources: dict[str, dict[str, Any]], entity_id: str) -> str | None:
    for change in resources["parent_changes"].values():
        if change["entity_id"] == entity_id and change["status"] == "registered":
            return str(change["new_parent_id"])
    return None


@router.get("/entities/{entity_id}")
def get_entity(entity_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return {**entity_record(entity_id), "parent_id": _registered_parent(resources, entity_id)}


@router.get("/entities/{entity_id}/contracts")
def list_contracts(entity_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        holder = {
            contract_id: a["to_entity_id"]
            for a in resources["assignments"].values()
            if a["status"] == "assigned"
            for contract_id in a["contract_ids"]
        }
    contracts = [
        {**c, "held_by": holder.get(c["contract_id"], entity_id)} for c in entity_contracts(entity_id)
    ]
    return {"entity_id": entity_id, "contracts": contracts}


@router.post("/parent-changes", status_code=201)
def file_parent_change(body: ParentChangeIn, call: CallDep) -> dict[str, Any]:
    change = {
        "change_id": new_id("pch"),
        **body.model_dump(),
        "status": "filed",
        "filed_at": utc_now_iso(),
        "registered_at": None,
        "refused_at": None,
        "reverted_at": None,
        "reason": None,
    }
    with call.state.transaction() as resources:
        resources["parent_changes"][change["change_id"]] = change
        call.record(change["change_id"], body.model_dump())
    return {"change_id": change["change_id"], "status": "filed"}


@router.get("/parent-changes/{change_id}")
def get_parent_change(change_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_get(resources, "parent_changes", change_id, "parent_change"))


@router.post("/parent-changes/{change_id}/revert")
def revert_parent_change(change_id: str, body: ReasonIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        change = _get(resources, "parent_changes", change_id, "parent_change")
        if change["status"] == "reverted":
            raise ProviderError(409, "already_reverted", "parent change is reverted already", id=change_id)
        if change["status"] == "refused":
            raise ProviderError(
                409, "parent_change_not_revertible", "the registry refused it", id=change_id, status="refused"
            )
        was = change["status"]
        change.update(status="reverted", reverted_at=utc_now_iso(), reason=body.reason)
        call.record(change_id, {**body.model_dump(), "was": was})
        return {"change_id": change_id, "status": "reverted", "was": was}


@router.post("/assignments", status_code=201)
def assign_contracts(body: AssignmentIn, call: CallDep) -> dict[str, Any]:
    contracts = {c["contract_id"]: c for c in entity_contracts(body.from_entity_id)}
    unknown = sorted(set(body.contract_ids) - set(contracts))
    if unknown:
        raise ProviderError(422, "unknown_contracts", f"not contracts of {body.from_entity_id}", ids=unknown)
    refused = sorted(c for c in body.contract_ids if not contracts[c]["assignable"])
    if refused:
        raise ProviderError(409, "contract_not_assignable", "counterparty consent required", ids=refused)
    with call.state.transaction() as resources:
        assigned = {
            contract_id
            for a in resources["assignments"].values()
            if a["status"] == "assigned"
            for contract_id in a["contract_ids"]
        }
        taken = sorted(set(body.contract_ids) & assigned)
        if taken:
            raise ProviderError(409, "contract_already_assigned", "contracts are assigned already", ids=taken)
        assignment = {
            "assignment_id": new_id("asg"),
            **body.model_dump(),
            "status": "assigned",
            "assigned_at": utc_now_iso(),
            "reverted_at": None,
        }
        resources["assignments"][assignment["assignment_id"]] = assignment
        call.record(assignment["assignment_id"], body.model_dump())
    return {"assignment_id": assignment["assignment_id"], "status": "assigned"}


@router.get("/assignments/{assignment_id}")
def get_assignment(assignment_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_get(resources, "assignments", assignment_id, "assignment"))


@router.post("/assignments/{assignment_id}/revert")
def revert_assignment(assignment_id: str, body: ReasonIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        assignment = _get(resources, "assignments", assignment_id, "assignment")
        if assignment["status"] == "reverted":
            raise ProviderError(409, "already_reverted", "assignment is reverted already", id=assignment_id)
        assignment.update(status="reverted", reverted_at=utc_now_iso(), reason=body.reason)
        call.record(assignment_id, body.model_dump())
        return {"assignment_id": assignment_id, "status": "reverted"}


def parent_change_event(change: dict[str, Any]) -> dict[str, Any]:
    """The registry's webhook for the filing's decision; its id is stable so a redelivery is recognisable."""
    status = change["status"]
    return {
        "event_id": stable_id("evt", "legal", change["change_id"], status),
        "type": f"parent_change.{status}",
        "correlation_key": change["correlation_key"],
        "payload": {
            "change_id": change["change_id"],
            "entity_id": change["entity_id"],
            "new_parent_id": change["new_parent_id"],
            "status": status,
            "reason": change["reason"],
        },
        "occurred_at": change[f"{status}_at"],
    }


class RegistryActIn(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


@control_router.post("/parent-changes/{change_id}/{action}")
def act_as_registry(
    change_id: str,
    action: RegistryAction,
    request: Request,
    body: RegistryActIn | None = None,
    deliver: bool = True,
    wait: bool = True,
) -> dict[str, Any]:
    """The registry registers or refuses a filed parent change; acting again redelivers the webhook."""
    return settle_and_tell(
        request,
        key="parent_change",
        noun="parent change",
        resource_id=change_id,
        get=lambda resources: _get(resources, "parent_changes", change_id, "parent_change"),
        waiting="filed",
        action=action,
        target=_TARGET_STATUS[action],
        refused="refused",
        reason=(body.reason if body else None) or "filing incomplete",
        event_of=parent_change_event,
        events_path=EVENTS_PATH,
        deliver=deliver,
        wait=wait,
    )
