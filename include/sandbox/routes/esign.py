"""eSign (DocuSign/Adobe Sign stand-in): envelopes, voiding, and control routes that make the signer act."""

from __future__ import annotations

import copy
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.state import SandboxState, new_id, stable_id, utc_now_iso
from include.sandbox.webhooks import WebhookDispatcher, dispatch

router = provider_router("esign", "/esign/v1")
control_router = APIRouter(prefix="/_sandbox/esign", tags=["sandbox control"])

SignerAction = Literal["sign", "decline", "expire"]
_TARGET_STATUS: dict[str, str] = {"sign": "signed", "decline": "declined", "expire": "expired"}


class Signer(BaseModel):
    email: str = Field(min_length=3)
    name: str = Field(min_length=1)


class EnvelopeIn(BaseModel):
    document_sha256: str = Field(min_length=1)
    document_uri: str = Field(min_length=1)
    subject: str = Field(min_length=1)
    signers: list[Signer] = Field(min_length=1)
    correlation_key: str = Field(min_length=1)


class VoidIn(BaseModel):
    reason: str = Field(min_length=1)


def _envelope(resources: dict[str, dict[str, Any]], envelope_id: str) -> dict[str, Any]:
    envelope = resources["envelopes"].get(envelope_id)
    if envelope is None:
        raise ProviderError(
            404, "envelope_not_found", f"envelope {envelope_id} not found", envelope_id=envelope_id
        )
    return envelope


def envelope_event(envelope: dict[str, Any]) -> dict[str, Any]:
    """The webhook for the envelope's current status; its id is stable so a redelivery is recognisable."""
    status = envelope["status"]
    return {
        "event_id": stable_id("evt", "esign", envelope["envelope_id"], status),
        "type": f"envelope.{status}",
        "envelope_id": envelope["envelope_id"],
        "correlation_key": envelope["correlation_key"],
        "occurred_at": envelope[f"{status}_at"],
    }


@router.post("/envelopes", status_code=201)
def create_envelope(body: EnvelopeIn, call: CallDep) -> dict[str, Any]:
    now = utc_now_iso()
    envelope = {
        "envelope_id": new_id("env"),
        "status": "sent",
        **body.model_dump(),
        "created_at": now,
        "sent_at": now,
        "signed_at": None,
        "declined_at": None,
        "expired_at": None,
        "voided_at": None,
        "void_reason": None,
    }
    with call.state.transaction() as resources:
        resources["envelopes"][envelope["envelope_id"]] = envelope
        call.record(envelope["envelope_id"], body.model_dump())
    return {"envelope_id": envelope["envelope_id"], "status": "sent"}


@router.get("/envelopes/{envelope_id}")
def get_envelope(envelope_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_envelope(resources, envelope_id))


@router.post("/envelopes/{envelope_id}/void")
def void_envelope(envelope_id: str, body: VoidIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        envelope = _envelope(resources, envelope_id)
        status = envelope["status"]
        if status == "voided":
            raise ProviderError(
                409, "already_voided", "envelope is already voided", envelope_id=envelope_id, status=status
            )
        if status != "sent":
            # A signed envelope is a binding contract; declined/expired ones are already dead.
            raise ProviderError(
                409,
                "envelope_not_voidable",
                f"cannot void an envelope that is {status}",
                envelope_id=envelope_id,
                status=status,
            )
        envelope.update(status="voided", voided_at=utc_now_iso(), void_reason=body.reason)
        call.record(envelope_id, body.model_dump())
        return {"envelope_id": envelope_id, "status": "voided", "voided_at": envelope["voided_at"]}


@control_router.post("/envelopes/{envelope_id}/{action}")
def act_as_signer(
    envelope_id: str, action: SignerAction, request: Request, deliver: bool = True, wait: bool = True
) -> dict[str, Any]:
    """Sign, decline or expire as the signer would; repeating the same action redelivers its webhook."""
    state: SandboxState = request.app.state.sandbox
    target = _TARGET_STATUS[action]
    with state.transaction() as resources:
        envelope = _envelope(resources, envelope_id)
        if envelope["status"] not in ("sent", target):
            raise ProviderError(
                409,
                "invalid_transition",
                f"cannot {action} an envelope that is {envelope['status']}",
                envelope_id=envelope_id,
                status=envelope["status"],
            )
        if envelope["status"] == "sent":
            envelope.update({"status": target, f"{target}_at": utc_now_iso()})
        event = envelope_event(envelope)
        snapshot = copy.deepcopy(envelope)
    if not deliver:
        return {"envelope": snapshot, "event": event, "queued": 0, "deliveries": []}
    dispatcher: WebhookDispatcher = request.app.state.webhooks
    return {
        "envelope": snapshot,
        **dispatch(dispatcher, "/esign", state.config.esign_secret, event, wait=wait),
    }
