"""Email, WhatsApp and SMS gateways: each accepts a message and hands back a provider message id.

What the recipient does with a message (replies, the address bounces, they complain or opt out) reaches the
sender as a signed webhook (``{base}/events/messaging``), routed like the providers route inbound traffic:
the sender opens a **conversation** with an address (``POST /{channel}/v1/conversations``, with the
correlation key its webhooks must carry, as Twilio Conversations' attributes or an email reply-to token
would), every message then sent to that address joins the newest open conversation, and whatever the
recipient does with a message is reported under its conversation's key. ``/_sandbox/messages/{id}/...``
plays the recipient.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from include.sandbox.provider import Call, CallDep, ProviderError, provider_router
from include.sandbox.state import SandboxState, new_id, stable_id, utc_now_iso
from include.sandbox.webhooks import WebhookDispatcher, dispatch

EVENTS_PATH = "/events/messaging"


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


class ConversationIn(BaseModel):
    address: str = Field(min_length=3, max_length=320)
    correlation_key: str = Field(pattern=r"^[!-~]{1,256}$")


class CloseIn(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


def _open_conversation(channel: str, address: str, resources: dict[str, dict[str, Any]]) -> str | None:
    """The newest open conversation of ``channel`` with ``address``: where a message sent now belongs."""
    found = [
        conversation
        for conversation in resources["conversations"].values()
        if conversation["channel"] == channel
        and conversation["address"] == address.strip().lower()
        and conversation["status"] == "open"
    ]
    return max(found, key=lambda c: c["seq"])["conversation_id"] if found else None


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
        record["conversation_id"] = _open_conversation(channel, record["to"], resources)
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


def _conversation(resources: dict[str, dict[str, Any]], channel: str, conversation_id: str) -> dict[str, Any]:
    conversation = resources["conversations"].get(conversation_id)
    if conversation is None or conversation["channel"] != channel:
        raise ProviderError(
            404, "conversation_not_found", f"conversation {conversation_id} not found", id=conversation_id
        )
    return conversation


def _add_conversation_routes(router: APIRouter, channel: str) -> None:
    @router.post("/conversations", status_code=201, name="open_conversation")
    def open_conversation(body: ConversationIn, call: CallDep) -> dict[str, Any]:
        """Route what the recipient at ``address`` does with our next messages to ``correlation_key``."""
        with call.state.transaction() as resources:
            conversation_id = new_id(f"{channel}_conv")
            conversation: dict[str, Any] = {
                "conversation_id": conversation_id,
                "seq": len(resources["conversations"]) + 1,
                "channel": channel,
                "address": body.address.strip().lower(),
                "correlation_key": body.correlation_key,
                "status": "open",
                "opened_at": utc_now_iso(),
                "closed_at": None,
            }
            resources["conversations"][conversation_id] = conversation
            call.record(conversation_id, body.model_dump())
            return dict(conversation)

    @router.get("/conversations/{conversation_id}", name="get_conversation")
    def get_conversation(conversation_id: str, call: CallDep) -> dict[str, Any]:
        with call.state.view() as resources:
            return dict(_conversation(resources, channel, conversation_id))

    @router.post("/conversations/{conversation_id}/close", name="close_conversation")
    def close_conversation(
        conversation_id: str, call: CallDep, body: CloseIn | None = None
    ) -> dict[str, Any]:
        """Stop routing: later messages to the address join no conversation (409 ``already_closed``)."""
        with call.state.transaction() as resources:
            conversation = _conversation(resources, channel, conversation_id)
            if conversation["status"] == "closed":
                raise ProviderError(
                    409, "already_closed", "conversation is already closed", conversation_id=conversation_id
                )
            conversation.update(status="closed", closed_at=utc_now_iso())
            call.record(conversation_id, {"reason": body.reason if body else None})
            return dict(conversation)


for _router, _channel in ((email_router, "email"), (whatsapp_router, "whatsapp"), (sms_router, "sms")):
    _add_conversation_routes(_router, _channel)

routers: list[APIRouter] = [email_router, whatsapp_router, sms_router]

# ------------------------------------------------------------------------------------------ the recipient
control_router = APIRouter(prefix="/_sandbox/messages", tags=["sandbox control"])

_EVENT_TYPES = {
    "reply": "message.replied",
    "complain": "message.complained",
    "opt_out": "message.opted_out",
}
RecipientAction = Literal["reply", "bounce", "complain", "opt_out"]


class RecipientActIn(BaseModel):
    text: str | None = Field(default=None, min_length=1, max_length=4000)
    """The reply (required for ``reply``)."""
    permanent: bool = True
    """A bounce: permanent (``message.bounced``: the address does not exist) or temporary
    (``message.deferred``: the mailbox is full, the phone is off; the provider tries again)."""
    reason: str | None = Field(default=None, max_length=500)


def recipient_event(
    message: dict[str, Any], conversation: dict[str, Any], action: str, act: RecipientActIn
) -> dict[str, Any]:
    """The webhook of what the recipient did with ``message``; its id is stable for the same act, so doing it
    again redelivers the same event."""
    event_type = (
        ("message.bounced" if act.permanent else "message.deferred")
        if action == "bounce"
        else _EVENT_TYPES[action]
    )
    return {
        "event_id": stable_id("evt", "messaging", message["provider_message_id"], event_type, act.text or ""),
        "type": event_type,
        "correlation_key": conversation["correlation_key"],
        "payload": {
            "channel": message["channel"],
            "conversation_id": conversation["conversation_id"],
            "message_id": message["message_id"],
            "provider_message_id": message["provider_message_id"],
            "from": message["to"],
            "text": act.text,
            "permanent": act.permanent if action == "bounce" else None,
            "reason": act.reason,
        },
        "occurred_at": utc_now_iso(),
    }


@control_router.post("/{provider_message_id}/{action}")
def act_as_recipient(
    provider_message_id: str,
    action: RecipientAction,
    request: Request,
    body: RecipientActIn | None = None,
    deliver: bool = True,
    wait: bool = True,
) -> dict[str, Any]:
    """The recipient replies to the message, its address bounces, they complain (spam) or opt out (STOP, the
    unsubscribe link); the provider reports it under the message's conversation."""
    state: SandboxState = request.app.state.sandbox
    act = body or RecipientActIn()
    if action == "reply" and not act.text:
        raise ProviderError(422, "text_required", "a reply has a text", field="text")
    with state.view() as resources:
        message = resources["messages"].get(provider_message_id)
        if message is None:
            raise ProviderError(
                404, "message_not_found", f"message {provider_message_id} not found", id=provider_message_id
            )
        conversation_id = message.get("conversation_id")
        if conversation_id is None:
            raise ProviderError(
                409,
                "no_conversation",
                "the message joined no conversation: the provider has nowhere to report it",
                id=provider_message_id,
            )
        event = recipient_event(dict(message), dict(resources["conversations"][conversation_id]), action, act)
    if not deliver:
        return {"event": event, "queued": 0, "deliveries": []}
    dispatcher: WebhookDispatcher = request.app.state.webhooks
    return dispatch(dispatcher, EVENTS_PATH, state.config.events_secret, event, wait=wait)
