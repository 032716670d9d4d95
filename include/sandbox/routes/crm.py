"""CRM: partners and deals exist for any id (derived deterministically), overlaid by what was seeded or
patched, so a workflow can start from any partner id while tests can still pin exact values."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, Field

from include.sandbox import derive
from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.state import new_id, utc_now_iso

router = provider_router("crm", "/crm/v1")


class PartnerIn(BaseModel, extra="allow"):
    partner_id: str | None = Field(default=None, min_length=1, max_length=200)


class PatchIn(BaseModel):
    status: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)


class NoteIn(BaseModel):
    subject_id: str = Field(min_length=1)
    text: str = Field(min_length=1)


def _merged(derived: dict[str, Any], record: dict[str, Any] | None) -> dict[str, Any]:
    # Deep copy: the response is serialised after the state lock is released.
    return copy.deepcopy({**derived, **(record or {}).get("overrides", {})})


def _patch(table: dict[str, Any], record_id: str, id_field: str, body: PatchIn) -> dict[str, Any]:
    changes = {name: value for name, value in body.fields.items() if name != id_field}
    if body.status is not None:
        changes["status"] = body.status
    record = table.setdefault(record_id, {"overrides": {}, "seeded": False})
    record["overrides"].update(changes)
    record["updated_at"] = utc_now_iso()
    return changes


@router.get("/partners/{partner_id}")
def get_partner(partner_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return _merged(derive.partner_profile(partner_id), resources["partners"].get(partner_id))


@router.post("/partners", status_code=201)
def create_partner(body: PartnerIn, call: CallDep) -> dict[str, Any]:
    partner_id = body.partner_id or new_id("ptn")
    overrides = body.model_dump(exclude={"partner_id"}, exclude_none=True)
    with call.state.transaction() as resources:
        existing = resources["partners"].get(partner_id)
        if existing is not None and existing["seeded"]:
            raise ProviderError(
                409, "partner_exists", f"partner {partner_id} already exists", partner_id=partner_id
            )
        resources["partners"][partner_id] = {
            "overrides": overrides,
            "seeded": True,
            "updated_at": utc_now_iso(),
        }
        call.record(partner_id, {"partner_id": partner_id, **overrides})
        return _merged(derive.partner_profile(partner_id), resources["partners"][partner_id])


@router.patch("/partners/{partner_id}")
def update_partner(partner_id: str, body: PatchIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        changes = _patch(resources["partners"], partner_id, "partner_id", body)
        call.record(partner_id, changes)
        return _merged(derive.partner_profile(partner_id), resources["partners"][partner_id])


@router.get("/deals/{deal_id}")
def get_deal(deal_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return _merged(derive.deal_record(deal_id), resources["deals"].get(deal_id))


@router.patch("/deals/{deal_id}")
def update_deal(deal_id: str, body: PatchIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        changes = _patch(resources["deals"], deal_id, "deal_id", body)
        call.record(deal_id, changes)
        return _merged(derive.deal_record(deal_id), resources["deals"][deal_id])


@router.post("/notes", status_code=201)
def create_note(body: NoteIn, call: CallDep) -> dict[str, Any]:
    note = {
        "note_id": new_id("note"),
        "subject_id": body.subject_id,
        "text": body.text,
        "created_at": utc_now_iso(),
    }
    with call.state.transaction() as resources:
        resources["notes"][note["note_id"]] = note
        call.record(note["note_id"], body.model_dump())
    return note


@router.get("/notes")
def list_notes(subject_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        notes = [dict(note) for note in resources["notes"].values() if note["subject_id"] == subject_id]
    return {"notes": notes}
