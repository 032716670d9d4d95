"""`/_sandbox/*`: what tests and operators use to look inside the sandbox, break it, and make the outside
world act (CRM events, partner answers, regulator filings). No credentials: it is not a provider API."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from include.sandbox.state import SandboxState, utc_now_iso
from include.sandbox.webhooks import WebhookDispatcher, dispatch

router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])


class ConfigIn(BaseModel):
    webhook_base: str | None = None
    esign_secret: str | None = Field(default=None, min_length=1)
    events_secret: str | None = Field(default=None, min_length=1)
    crm_secret: str | None = Field(default=None, min_length=1)
    webhook_duplicates: int | None = Field(default=None, ge=1, le=20)
    webhook_delay_s: float | None = Field(default=None, ge=0, le=300)
    webhook_timeout_s: float | None = Field(default=None, gt=0, le=120)
    webhook_max_attempts: int | None = Field(default=None, ge=1, le=10)
    webhook_backoff_s: float | None = Field(default=None, ge=0, le=60)


class FaultIn(BaseModel):
    system: str = Field(min_length=1)
    action: str | None = None
    mode: Literal["error", "slow", "drop"] = "error"
    status: int = Field(default=503, ge=400, le=599)
    delay_s: float = Field(default=2.0, ge=0, le=300)
    count: int = Field(default=1, ge=1)


class CrmEventIn(BaseModel):
    event_id: str | None = Field(default=None, min_length=1)
    workflow: str = Field(min_length=1)
    payload: dict[str, Any] = Field(default_factory=dict)


class OutsideEventIn(BaseModel):
    source: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    event_id: str | None = Field(default=None, min_length=1)
    type: str = Field(min_length=1)
    correlation_key: str = Field(min_length=1)
    payload: dict[str, Any] = Field(default_factory=dict)


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def _dispatcher(request: Request) -> WebhookDispatcher:
    dispatcher: WebhookDispatcher = request.app.state.webhooks
    return dispatcher


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    state = _state(request)
    return {"status": "ok", "effects": len(state.effects()), "webhook_base": state.config.webhook_base}


@router.get("/config")
def get_config(request: Request) -> dict[str, Any]:
    return _state(request).config.public()


@router.post("/config")
def update_config(body: ConfigIn, request: Request) -> dict[str, Any]:
    # Only webhook_base may be nulled (it switches delivery off); null elsewhere means "leave as is".
    changes = {
        name: value
        for name, value in body.model_dump(exclude_unset=True).items()
        if value is not None or name == "webhook_base"
    }
    return _state(request).update_config(**changes).public()


@router.get("/effects")
def list_effects(
    request: Request,
    system: str | None = None,
    action: str | None = None,
    resource_id: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    effects = _state(request).effects(
        system=system, action=action, resource_id=resource_id, idempotency_key=idempotency_key
    )
    return {"count": len(effects), "effects": effects}


@router.get("/effects/summary")
def effects_summary(request: Request) -> dict[str, Any]:
    summary = _state(request).effects_summary()
    return {"total": sum(sum(actions.values()) for actions in summary.values()), "counts": summary}


@router.post("/reset")
def reset(request: Request) -> dict[str, str]:
    _state(request).reset()
    return {"status": "reset"}


@router.get("/faults")
def list_faults(request: Request) -> dict[str, Any]:
    return {"faults": _state(request).faults()}


@router.post("/faults", status_code=201)
def add_fault(body: FaultIn, request: Request) -> dict[str, Any]:
    return _state(request).add_fault(**body.model_dump())


@router.delete("/faults")
def clear_faults(request: Request) -> dict[str, str]:
    _state(request).clear_faults()
    return {"status": "cleared"}


@router.get("/deliveries")
def list_deliveries(request: Request, event_id: str | None = None) -> dict[str, Any]:
    deliveries = _state(request).deliveries(event_id=event_id)
    return {"count": len(deliveries), "deliveries": deliveries}


@router.post("/crm/events")
def fire_crm_event(body: CrmEventIn, request: Request, wait: bool = True) -> dict[str, Any]:
    """What the CRM sends when someone starts a workflow there."""
    event = {
        "event_id": body.event_id or f"crm_{uuid.uuid4().hex[:20]}",
        "workflow": body.workflow,
        "payload": body.payload,
        "occurred_at": utc_now_iso(),
    }
    secret = _state(request).config.crm_secret
    return dispatch(_dispatcher(request), "/crm/events", secret, event, wait=wait)


@router.post("/events")
def fire_outside_event(body: OutsideEventIn, request: Request, wait: bool = True) -> dict[str, Any]:
    """A partner answer, a regulator filing, ...: delivered to ``{webhook_base}/events/{source}``."""
    event = {
        "event_id": body.event_id or f"evt_{uuid.uuid4().hex[:20]}",
        "type": body.type,
        "correlation_key": body.correlation_key,
        "payload": body.payload,
        "occurred_at": utc_now_iso(),
    }
    secret = _state(request).config.events_secret
    return dispatch(_dispatcher(request), f"/events/{body.source}", secret, event, wait=wait)
