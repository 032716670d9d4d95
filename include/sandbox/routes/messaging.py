"""Email, WhatsApp and SMS gateways: each accepts a message and hands back a provider message id."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from include.sandbox.provider import Call, CallDep, provider_router
from include.sandbox.state import new_id, utc_now_iso


class EmailIn(BaseModel):
    to: str = Field(min_length=3)
    subject: str
    body: str
    message_id: str = Field(min_length=1)


class WhatsappIn(BaseModel):
    to: str = Field(min_length=3)
    template: str = Field(min_length=1)
    body: str
    message_id: str = Field(min_length=1)


class SmsIn(BaseModel):
    to: str = Field(min_length=3)
    body: str
    message_id: str = Field(min_length=1)


def _accept(channel: str, message: BaseModel, call: Call) -> dict[str, Any]:
    provider_message_id = new_id(channel)
    record = {
        "provider_message_id": provider_message_id,
        "channel": channel,
        **message.model_dump(),
        "status": "accepted",
        "accepted_at": utc_now_iso(),
    }
    with call.state.transaction() as resources:
        resources["messages"][provider_message_id] = record
        call.record(provider_message_id, message.model_dump())
    return {"provider_message_id": provider_message_id, "status": "accepted"}


def _lookup(channel: str, message_id: str, call: Call) -> dict[str, Any]:
    """Find what the gateway accepted for one of our message ids: how a lost response is reconciled."""
    with call.state.view() as resources:
        found = [
            dict(record)
            for record in resources["messages"].values()
            if record["channel"] == channel and record["message_id"] == message_id
        ]
    return {"messages": found}


email_router = provider_router("email", "/email/v1")
whatsapp_router = provider_router("whatsapp", "/whatsapp/v1")
sms_router = provider_router("sms", "/sms/v1")


@email_router.post("/messages", status_code=201)
def send(body: EmailIn, call: CallDep) -> dict[str, Any]:
    return _accept("email", body, call)


@whatsapp_router.post("/messages", status_code=201, name="send")
def send_whatsapp(body: WhatsappIn, call: CallDep) -> dict[str, Any]:
    return _accept("whatsapp", body, call)


@sms_router.post("/messages", status_code=201, name="send")
def send_sms(body: SmsIn, call: CallDep) -> dict[str, Any]:
    return _accept("sms", body, call)


@email_router.get("/messages", name="list_messages")
def list_email(message_id: str, call: CallDep) -> dict[str, Any]:
    return _lookup("email", message_id, call)


@whatsapp_router.get("/messages", name="list_messages")
def list_whatsapp(message_id: str, call: CallDep) -> dict[str, Any]:
    return _lookup("whatsapp", message_id, call)


@sms_router.get("/messages", name="list_messages")
def list_sms(message_id: str, call: CallDep) -> dict[str, Any]:
    return _lookup("sms", message_id, call)


routers: list[APIRouter] = [email_router, whatsapp_router, sms_router]
