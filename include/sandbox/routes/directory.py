"""Identity directory (Entra ID/Okta stand-in): accounts provisioned in bulk for people joining an
organisation, group access granted to them, both undone on a rollback (access revoked, accounts disabled).

A provisioning creates one ``active`` account per person (``upn`` at the given domain: the one the caller
chooses, or the mailbox name of the person's email there); while an account with that upn is active it
cannot be provisioned again (409 ``account_exists``, naming the taken upns). Deprovisioning disables the
provisioning's accounts. A grant adds accounts to groups; revoking it removes them. Both undos answer 409
``already_*`` when done before, so an undo replayed without its key is recognisable.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, Field

from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.state import new_id, utc_now_iso

router = provider_router("directory", "/directory/v1")


class Person(BaseModel):
    person_id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    # The account name the caller chooses (a directory's userPrincipalName), at the provisioning's domain;
    # by default the mailbox name of ``email`` there.
    upn: str | None = Field(default=None, min_length=3, max_length=320, pattern=r"^[a-z0-9._-]+@[a-z0-9.-]+$")


class ProvisioningIn(BaseModel):
    domain: str = Field(min_length=3, max_length=200, pattern=r"^[a-z0-9.-]+$")
    source: str = Field(min_length=1, max_length=128)
    people: list[Person] = Field(min_length=1, max_length=500)


class GrantIn(BaseModel):
    account_ids: list[str] = Field(min_length=1, max_length=500)
    groups: list[str] = Field(min_length=1, max_length=50)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


def upn(person: Person, domain: str) -> str:
    if person.upn is not None:
        return person.upn
    return f"{person.email.split('@', 1)[0].lower()}@{domain}"


def _get(resources: dict[str, dict[str, Any]], kind: str, item_id: str, what: str) -> dict[str, Any]:
    item = resources[kind].get(item_id)
    if item is None:
        raise ProviderError(404, f"{what}_not_found", f"{what} {item_id} not found", id=item_id)
    return item


def _active_upns(resources: dict[str, dict[str, Any]]) -> set[str]:
    return {
        account["upn"]
        for provisioning in resources["provisionings"].values()
        for account in provisioning["accounts"]
        if account["status"] == "active"
    }


@router.post("/provisionings", status_code=201)
def provision_accounts(body: ProvisioningIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        wanted = [upn(person, body.domain) for person in body.people]
        elsewhere = sorted(name for name in wanted if not name.endswith(f"@{body.domain}"))
        if elsewhere:
            raise ProviderError(
                422, "upn_outside_domain", f"account names must be at {body.domain}", upns=elsewhere
            )
        if len(set(wanted)) != len(wanted):
            raise ProviderError(
                422, "duplicate_upn", "two people of one provisioning have the same account name"
            )
        taken = sorted(set(wanted) & _active_upns(resources))
        if taken:
            raise ProviderError(409, "account_exists", "accounts exist already", upns=taken)
        now = utc_now_iso()
        accounts = [
            {
                "account_id": new_id("acc"),
                "person_id": person.person_id,
                "name": person.name,
                "upn": name,
                "status": "active",
                "created_at": now,
            }
            for person, name in zip(body.people, wanted, strict=True)
        ]
        provisioning_id = new_id("prv")
        provisioning: dict[str, Any] = {
            "provisioning_id": provisioning_id,
            "domain": body.domain,
            "source": body.source,
            "accounts": accounts,
            "status": "active",
            "created_at": now,
            "deprovisioned_at": None,
        }
        resources["provisionings"][provisioning_id] = provisioning
        call.record(provisioning_id, body.model_dump())
        return copy.deepcopy({"provisioning_id": provisioning_id, "accounts": accounts})


@router.get("/provisionings/{provisioning_id}")
def get_provisioning(provisioning_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_get(resources, "provisionings", provisioning_id, "provisioning"))


@router.post("/provisionings/{provisioning_id}/deprovision")
def deprovision_accounts(provisioning_id: str, body: ReasonIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        provisioning = _get(resources, "provisionings", provisioning_id, "provisioning")
        if provisioning["status"] == "deprovisioned":
            raise ProviderError(
                409, "already_deprovisioned", "accounts are disabled already", id=provisioning_id
            )
        now = utc_now_iso()
        provisioning.update(status="deprovisioned", deprovisioned_at=now, reason=body.reason)
        for account in provisioning["accounts"]:
            account.update(status="disabled", disabled_at=now)
        call.record(provisioning_id, body.model_dump())
        return {
            "provisioning_id": provisioning_id,
            "status": "deprovisioned",
            "disabled": len(provisioning["accounts"]),
        }


@router.post("/grants", status_code=201)
def grant_access(body: GrantIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        known = {
            account["account_id"]: account
            for provisioning in resources["provisionings"].values()
            for account in provisioning["accounts"]
        }
        missing = sorted(a for a in body.account_ids if known.get(a, {}).get("status") != "active")
        if missing:
            raise ProviderError(
                409, "account_not_active", "accounts are unknown or disabled", account_ids=missing
            )
        grant = {
            "grant_id": new_id("grt"),
            **body.model_dump(),
            "status": "granted",
            "granted_at": utc_now_iso(),
            "revoked_at": None,
        }
        resources["grants"][grant["grant_id"]] = grant
        call.record(grant["grant_id"], body.model_dump())
    return {"grant_id": grant["grant_id"], "status": "granted"}


@router.get("/grants/{grant_id}")
def get_grant(grant_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_get(resources, "grants", grant_id, "grant"))


@router.post("/grants/{grant_id}/revoke")
def revoke_access(grant_id: str, body: ReasonIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        grant = _get(resources, "grants", grant_id, "grant")
        if grant["status"] == "revoked":
            raise ProviderError(409, "already_revoked", "access is revoked already", id=grant_id)
        grant.update(status="revoked", revoked_at=utc_now_iso(), reason=body.reason)
        call.record(grant_id, body.model_dump())
        return {"grant_id": grant_id, "status": "revoked"}
