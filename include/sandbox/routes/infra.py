"""Infrastructure provisioning (a cloud/platform provider stand-in): a region deployment for a market, the
market's tenant (enabled = the market is live in the product), its payment account and its messaging
numbers; each created once per Idempotency-Key and removed by its own call.

A region takes a while to come up, as at a real provider: the creation answers ``provisioning`` and the
provider later calls back with a signed webhook to ``{base}/events/infra`` (``infra.region.ready`` or
``infra.region.failed``), made to happen with ``POST /_sandbox/infra/regions/{region_id}/ready|fail``.
Dependencies are the provider's: a tenant needs a ready region; a tenant with open accounts or numbers, or a
region with live tenants, cannot be removed (409), so an undo in the wrong order fails loudly.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from include.sandbox.provider import Call, CallDep, ProviderError, provider_router
from include.sandbox.state import SandboxState, new_id, stable_id, utc_now_iso
from include.sandbox.webhooks import WebhookDispatcher, dispatch

router = provider_router("infra", "/infra/v1")
control_router = APIRouter(prefix="/_sandbox/infra", tags=["sandbox control"])

EVENTS_PATH = "/events/infra"
MARKET = r"^[A-Z]{2}$"
RegionAction = Literal["ready", "fail"]
_CALLING_CODES = {"BR": "55", "MX": "52", "DE": "49", "FR": "33", "IN": "91", "JP": "81", "AE": "971"}


class RegionIn(BaseModel):
    market: str = Field(pattern=MARKET)
    region: str = Field(min_length=1, max_length=64)
    correlation_key: str = Field(min_length=1, max_length=300)


class TenantIn(BaseModel):
    market: str = Field(pattern=MARKET)
    region_id: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=200)


class PaymentAccountIn(BaseModel):
    tenant_id: str = Field(min_length=1)
    market: str = Field(pattern=MARKET)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class NumberIn(BaseModel):
    tenant_id: str = Field(min_length=1)
    market: str = Field(pattern=MARKET)
    channels: list[Literal["sms", "whatsapp", "voice"]] = Field(min_length=1)


class RegionActIn(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


def _table(resources: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    return resources.setdefault(f"infra_{name}", {})


def _get(resources: dict[str, dict[str, Any]], name: str, resource_id: str) -> dict[str, Any]:
    found = _table(resources, name).get(resource_id)
    if found is None:
        kind = name.rstrip("s")
        raise ProviderError(404, f"{kind}_not_found", f"{kind} {resource_id} not found", id=resource_id)
    return found


def region_event(region: dict[str, Any]) -> dict[str, Any]:
    """The callback for the region's current status; a stable id, so a redelivery is recognisable."""
    status = region["status"]
    return {
        "event_id": stable_id("evt", "infra", region["region_id"], status),
        "type": f"infra.region.{status}",
        "correlation_key": region["correlation_key"],
        "payload": {
            "region_id": region["region_id"],
            "region": region["region"],
            "market": region["market"],
            "status": status,
            "reason": region["failure_reason"],
        },
        "occurred_at": region["updated_at"],
    }


# ----------------------------------------------------------------------------- regions
@router.post("/regions", status_code=202)
def provision_region(body: RegionIn, call: CallDep) -> dict[str, Any]:
    now = utc_now_iso()
    region = {
        "region_id": new_id("rgn"),
        **body.model_dump(),
        "status": "provisioning",
        "failure_reason": None,
        "created_at": now,
        "updated_at": now,
    }
    with call.state.transaction() as resources:
        _table(resources, "regions")[region["region_id"]] = region
        call.record(region["region_id"], body.model_dump())
    return {key: region[key] for key in ("region_id", "region", "market", "status")}


@router.get("/regions/{region_id}")
def get_region(region_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_get(resources, "regions", region_id))


@router.delete("/regions/{region_id}")
def deprovision_region(region_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        region = _get(resources, "regions", region_id)
        if region["status"] == "deprovisioned":
            raise ProviderError(
                409, "already_deprovisioned", "region is already deprovisioned", region_id=region_id
            )
        live = sorted(
            tenant["tenant_id"]
            for tenant in _table(resources, "tenants").values()
            if tenant["region_id"] == region_id and tenant["status"] != "deleted"
        )
        if live:
            raise ProviderError(409, "region_in_use", "tenants still run in this region", tenants=live)
        region.update(status="deprovisioned", updated_at=utc_now_iso())
        call.record(region_id, {"region": region["region"], "market": region["market"]})
        return {"region_id": region_id, "status": "deprovisioned"}


@control_router.post("/regions/{region_id}/{action}")
def finish_region(
    region_id: str,
    action: RegionAction,
    request: Request,
    body: RegionActIn | None = None,
    deliver: bool = True,
    wait: bool = True,
) -> dict[str, Any]:
    """The provider finishes (or fails) the region's provisioning and calls back; repeating the same action
    redelivers the same event."""
    state: SandboxState = request.app.state.sandbox
    target = "ready" if action == "ready" else "failed"
    with state.transaction() as resources:
        region = _get(resources, "regions", region_id)
        if region["status"] != target:
            if region["status"] != "provisioning":
                raise ProviderError(
                    409,
                    "invalid_transition",
                    f"cannot make a {region['status']} region {target}",
                    region_id=region_id,
                    status=region["status"],
                )
            reason = (body.reason if body else None) or "capacity unavailable in the region"
            region.update(
                status=target, updated_at=utc_now_iso(), failure_reason=reason if target == "failed" else None
            )
        event = region_event(region)
        snapshot = copy.deepcopy(region)
    if not deliver:
        return {"region": snapshot, "event": event, "queued": 0, "deliveries": []}
    dispatcher: WebhookDispatcher = request.app.state.webhooks
    return {
        "region": snapshot,
        **dispatch(dispatcher, EVENTS_PATH, state.config.events_secret, event, wait=wait),
    }


# ----------------------------------------------------------------------------- tenants (the market)
@router.post("/tenants", status_code=201)
def create_tenant(body: TenantIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        region = _get(resources, "regions", body.region_id)
        if region["status"] != "ready":
            raise ProviderError(
                409, "region_not_ready", f"region is {region['status']}", region_id=body.region_id
            )
        tenant = {
            "tenant_id": new_id("tnt"),
            **body.model_dump(),
            "status": "provisioned",
            "created_at": utc_now_iso(),
        }
        _table(resources, "tenants")[tenant["tenant_id"]] = tenant
        call.record(tenant["tenant_id"], body.model_dump())
    return {"tenant_id": tenant["tenant_id"], "status": "provisioned"}


@router.get("/tenants/{tenant_id}")
def get_tenant(tenant_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_get(resources, "tenants", tenant_id))


def _switch(tenant_id: str, call: Call, target: str) -> JSONResponse:
    with call.state.transaction() as resources:
        tenant = _get(resources, "tenants", tenant_id)
        if tenant["status"] == "deleted":
            raise ProviderError(409, "tenant_deleted", "tenant is deleted", tenant_id=tenant_id)
        changed = tenant["status"] != target
        if changed:
            tenant["status"] = target
            call.record(tenant_id, {"market": tenant["market"], "status": target})
    # Switching to the state it is in changes nothing and logs no effect (as PUT-like switches do).
    return JSONResponse({"tenant_id": tenant_id, "status": target, "changed": changed})


@router.post("/tenants/{tenant_id}/enable")
def enable_tenant(tenant_id: str, call: CallDep) -> JSONResponse:
    return _switch(tenant_id, call, "enabled")


@router.post("/tenants/{tenant_id}/disable")
def disable_tenant(tenant_id: str, call: CallDep) -> JSONResponse:
    return _switch(tenant_id, call, "disabled")


@router.delete("/tenants/{tenant_id}")
def delete_tenant(tenant_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        tenant = _get(resources, "tenants", tenant_id)
        if tenant["status"] == "deleted":
            raise ProviderError(409, "already_deleted", "tenant is already deleted", tenant_id=tenant_id)
        attached = sorted(
            [a["account_id"] for a in _table(resources, "accounts").values() if _open_on(a, tenant_id)]
            + [n["number_id"] for n in _table(resources, "numbers").values() if _open_on(n, tenant_id)]
        )
        if attached:
            raise ProviderError(
                409, "tenant_has_resources", "close its accounts and numbers first", ids=attached
            )
        tenant["status"] = "deleted"
        call.record(tenant_id, {"market": tenant["market"]})
        return {"tenant_id": tenant_id, "status": "deleted"}


def _open_on(resource: dict[str, Any], tenant_id: str) -> bool:
    return bool(resource["tenant_id"] == tenant_id and resource["status"] == "active")


# ----------------------------------------------------------------------------- payment accounts
@router.post("/payment-accounts", status_code=201)
def open_payment_account(body: PaymentAccountIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        _active_tenant(resources, body.tenant_id)
        account = {"account_id": new_id("pay"), **body.model_dump(), "status": "active"}
        _table(resources, "accounts")[account["account_id"]] = account
        call.record(account["account_id"], body.model_dump())
    return {"account_id": account["account_id"], "currency": body.currency, "status": "active"}


@router.delete("/payment-accounts/{account_id}")
def close_payment_account(account_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        account = _get(resources, "accounts", account_id)
        if account["status"] == "closed":
            raise ProviderError(
                409, "already_closed", "payment account is already closed", account_id=account_id
            )
        account["status"] = "closed"
        call.record(account_id, {"tenant_id": account["tenant_id"]})
        return {"account_id": account_id, "status": "closed"}


# ----------------------------------------------------------------------------- messaging numbers
@router.post("/messaging-numbers", status_code=201)
def allocate_number(body: NumberIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        _active_tenant(resources, body.tenant_id)
        number_id = new_id("num")
        digits = str(int(hashlib.sha256(number_id.encode()).hexdigest()[:12], 16))[:9].rjust(9, "0")
        number = {
            "number_id": number_id,
            **body.model_dump(),
            "e164": f"+{_CALLING_CODES.get(body.market, '1')}{digits}",
            "status": "active",
        }
        _table(resources, "numbers")[number_id] = number
        call.record(number_id, body.model_dump())
    return {"number_id": number_id, "e164": number["e164"], "status": "active"}


@router.delete("/messaging-numbers/{number_id}")
def release_number(number_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        number = _get(resources, "numbers", number_id)
        if number["status"] == "released":
            raise ProviderError(409, "already_released", "number is already released", number_id=number_id)
        number["status"] = "released"
        call.record(number_id, {"tenant_id": number["tenant_id"], "e164": number["e164"]})
        return {"number_id": number_id, "status": "released"}


def _active_tenant(resources: dict[str, dict[str, Any]], tenant_id: str) -> dict[str, Any]:
    tenant = _get(resources, "tenants", tenant_id)
    if tenant["status"] == "deleted":
        raise ProviderError(409, "tenant_deleted", "tenant is deleted", tenant_id=tenant_id)
    return tenant
