"""CRM leads and the sales team (the same CRM as ``crm``: one system, one idempotency scope, one effect log).

A lead exists for any id (derived: company, domain, contact, country, source, engagement, notes; industry,
size and budget only for some, as a web form leaves them out), overlaid by what was seeded or patched. The
sales team (``GET /owners``) is a fixed roster, each owner with the territories (ISO country codes, ``*`` for
anywhere), segments and score bands they take, their capacity, and their load: open leads, a fixed baseline
plus every lead assigned to them here (``PATCH /leads/{id}`` with an ``owner_id``).
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, Field

from include.sandbox import derive
from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.state import utc_now_iso

router = provider_router("crm", "/crm/v1")

_SOURCES = ("referral", "partner", "inbound", "event", "outbound", "other")
_NOTES = (
    "",
    "Budget: approved 80k USD.\nTimeline: this quarter.\nDecision maker: the CFO.",
    "Asked for pricing on the website chat.",
    "Budget: no budget this year.\nTimeline: unclear.",
    "Need: replace spreadsheets for partner onboarding.\nDecision maker: head of operations.",
)

# The sales team. Baseline load: open leads each owner already carries before this sandbox assigned any.
OWNERS: tuple[dict[str, Any], ...] = (
    {
        "owner_id": "own-mea-ent",
        "name": "Layla Haddad",
        "email": "layla.haddad@sales.execution-plane.example",
        "territories": ["AE", "SA", "QA", "KW", "BH", "OM", "EG", "JO"],
        "segments": ["enterprise", "mid_market"],
        "bands": ["hot", "warm"],
        "capacity": 30,
        "baseline_open_leads": 12,
    },
    {
        "owner_id": "own-mea-smb",
        "name": "Omar Khalil",
        "email": "omar.khalil@sales.execution-plane.example",
        "territories": ["AE", "SA", "QA", "KW", "BH", "OM", "EG", "JO"],
        "segments": ["smb"],
        "bands": ["hot", "warm"],
        "capacity": 40,
        "baseline_open_leads": 18,
    },
    {
        "owner_id": "own-eu-ent",
        "name": "Greta Fischer",
        "email": "greta.fischer@sales.execution-plane.example",
        "territories": ["DE", "FR", "NL", "SE", "ES", "GB"],
        "segments": ["enterprise", "mid_market"],
        "bands": ["hot", "warm"],
        "capacity": 30,
        "baseline_open_leads": 21,
    },
    {
        "owner_id": "own-eu-smb",
        "name": "Ben Brandt",
        "email": "ben.brandt@sales.execution-plane.example",
        "territories": ["DE", "FR", "NL", "SE", "ES", "GB"],
        "segments": ["smb"],
        "bands": ["hot", "warm"],
        "capacity": 40,
        "baseline_open_leads": 9,
    },
    {
        "owner_id": "own-eu-smb-2",
        "name": "Ines Dubois",
        "email": "ines.dubois@sales.execution-plane.example",
        "territories": ["DE", "FR", "NL", "SE", "ES", "GB"],
        "segments": ["smb"],
        "bands": ["hot", "warm"],
        "capacity": 40,
        "baseline_open_leads": 10,
    },
    {
        "owner_id": "own-amer",
        "name": "Luis Castillo",
        "email": "luis.castillo@sales.execution-plane.example",
        "territories": ["US", "CA", "MX", "BR"],
        "segments": ["enterprise", "mid_market", "smb"],
        "bands": ["hot", "warm"],
        "capacity": 35,
        "baseline_open_leads": 20,
    },
    {
        "owner_id": "own-apac",
        "name": "Hiro Tanaka",
        "email": "hiro.tanaka@sales.execution-plane.example",
        "territories": ["IN", "SG", "AU", "JP"],
        "segments": ["enterprise", "mid_market", "smb"],
        "bands": ["hot", "warm"],
        "capacity": 35,
        "baseline_open_leads": 14,
    },
    {
        "owner_id": "own-overflow",
        "name": "Kara Hansen",
        "email": "kara.hansen@sales.execution-plane.example",
        "territories": ["*"],
        "segments": ["enterprise", "mid_market", "smb"],
        "bands": ["hot", "warm"],
        "capacity": 25,
        "baseline_open_leads": 5,
    },
    {
        "owner_id": "own-nurture",
        "name": "Nurture desk",
        "email": "nurture@sales.execution-plane.example",
        "territories": ["*"],
        "segments": ["enterprise", "mid_market", "smb"],
        "bands": ["cold"],
        "capacity": 1000,
        "baseline_open_leads": 240,
    },
)


def lead_record(lead_id: str) -> dict[str, Any]:
    """A new lead as the CRM's web form captured it; the same id always gives the same lead."""
    profile = derive.partner_profile(f"lead-{lead_id}")
    stem = profile["company"].split(" ")[0].lower()
    domain = f"{stem}-{derive.hex_digest('lead-domain', lead_id)[:6]}.example"
    first = profile["name"].split(" ")[0].lower()
    n = int(derive.hex_digest("lead-facts", lead_id)[:8], 16)
    return {
        "lead_id": lead_id,
        "company_name": profile["company"],
        "company_domain": domain,
        "contact_name": profile["name"],
        "contact_email": f"{first}@{domain}",
        "country": profile["country"],
        # A web form asks for these, and about half the leads leave them out: enrichment fills them in.
        "industry": profile["industry"] if n % 2 else None,
        "company_size": int(profile["employees"]) if n % 3 == 0 else None,
        "budget_usd": float((n % 9) * 10_000) if n % 4 == 0 else None,
        "source": _SOURCES[n % len(_SOURCES)],
        "engagement": {
            "emails_opened": n % 12,
            "replies": n % 3,
            "meetings": 1 if n % 5 == 0 else 0,
            "website_visits": n % 40,
        },
        "notes": _NOTES[n % len(_NOTES)],
        "stage": "new",
        "status": "new",
        "owner_id": None,
    }


class LeadIn(BaseModel, extra="allow"):
    lead_id: str = Field(min_length=1, max_length=128)


class LeadPatchIn(BaseModel):
    status: str | None = Field(default=None, min_length=1, max_length=40)
    owner_id: str | None = Field(default=None, min_length=1, max_length=128)
    fields: dict[str, Any] = Field(default_factory=dict)


def _not_deleted(resources: dict[str, dict[str, Any]], lead_id: str) -> None:
    if resources["leads"].get(lead_id, {}).get("deleted"):
        raise ProviderError(404, "lead_not_found", f"lead {lead_id} not found", lead_id=lead_id)


def _lead(resources: dict[str, dict[str, Any]], lead_id: str) -> dict[str, Any] | None:
    record = resources["leads"].get(lead_id)
    if record is None:
        return None
    return copy.deepcopy({**lead_record(lead_id), **record["overrides"]})


@router.get("/leads/{lead_id}")
def get_lead(lead_id: str, call: CallDep) -> dict[str, Any]:
    """A seeded or patched lead as it stands, or the derived one; ``404`` once deleted."""
    with call.state.view() as resources:
        _not_deleted(resources, lead_id)
        return _lead(resources, lead_id) or lead_record(lead_id)


@router.post("/leads", status_code=201)
def create_lead(body: LeadIn, call: CallDep) -> dict[str, Any]:
    """Seed a lead with these fields over the derived ones (how tests pin a lead's facts)."""
    overrides = body.model_dump(exclude={"lead_id"})
    with call.state.transaction() as resources:
        if body.lead_id in resources["leads"]:
            raise ProviderError(
                409, "lead_exists", f"lead {body.lead_id} already exists", lead_id=body.lead_id
            )
        resources["leads"][body.lead_id] = {"overrides": overrides, "updated_at": utc_now_iso()}
        call.record(body.lead_id, {"lead_id": body.lead_id, **overrides})
        return _lead(resources, body.lead_id) or {}


@router.patch("/leads/{lead_id}")
def update_lead(lead_id: str, body: LeadPatchIn, call: CallDep) -> dict[str, Any]:
    """Set the lead's status, owner and fields (score, band, enrichment...)."""
    owners = {owner["owner_id"] for owner in OWNERS}
    if body.owner_id is not None and body.owner_id not in owners:
        raise ProviderError(422, "unknown_owner", f"no owner {body.owner_id}", owner_id=body.owner_id)
    changes = {name: value for name, value in body.fields.items() if name != "lead_id"}
    if body.status is not None:
        changes["status"] = body.status
    if body.owner_id is not None:
        changes["owner_id"] = body.owner_id
    with call.state.transaction() as resources:
        _not_deleted(resources, lead_id)
        record = resources["leads"].setdefault(lead_id, {"overrides": {}})
        record["overrides"].update(changes)
        record["updated_at"] = utc_now_iso()
        call.record(lead_id, changes)
        return _lead(resources, lead_id) or {}


@router.delete("/leads/{lead_id}")
def delete_lead(lead_id: str, call: CallDep) -> dict[str, Any]:
    """Delete the lead (a duplicate merged away, spam): reads and updates answer ``404`` from now on."""
    with call.state.transaction() as resources:
        _not_deleted(resources, lead_id)
        record = resources["leads"].setdefault(lead_id, {"overrides": {}})
        record.update(deleted=True, updated_at=utc_now_iso())
        call.record(lead_id, {"deleted": True})
    return {"lead_id": lead_id, "deleted": True}


@router.get("/owners")
def list_owners(call: CallDep) -> dict[str, Any]:
    """The sales team with each owner's load: baseline open leads plus the leads assigned to them here."""
    with call.state.view() as resources:
        assigned: dict[str, int] = {}
        for record in resources["leads"].values():
            if record.get("deleted"):
                continue
            owner = record["overrides"].get("owner_id")
            if owner and record["overrides"].get("status") not in ("won", "lost", "disqualified"):
                assigned[owner] = assigned.get(owner, 0) + 1
    owners = []
    for owner in OWNERS:
        entry = {k: copy.deepcopy(v) for k, v in owner.items() if k != "baseline_open_leads"}
        entry["open_leads"] = owner["baseline_open_leads"] + assigned.get(owner["owner_id"], 0)
        entry["active"] = True
        owners.append(entry)
    return {"owners": owners}
