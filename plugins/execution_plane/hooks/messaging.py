"""Outbound messages: email, WhatsApp and SMS providers share one shape.

What a recipient does with our messages (replies, bounces, complaints, opt-outs) comes back as signed webhooks
(``/webhooks/events/messaging``) under the correlation key of the **conversation** the message joined: open
one with the recipient's address before sending (``open_conversation``), and every message to that address
from then on reports there (``RECIPIENT_EVENT_TYPES``; ``message.deferred``, a temporary bounce the provider
retries, is not among them).
"""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderHook

CHANNEL_CONNECTIONS = {"email": "email_default", "whatsapp": "whatsapp_default", "sms": "sms_default"}
#: What a recipient did with a message that ends a conversation's waiting: a reply, a permanent bounce, a
#: spam complaint, an opt-out (STOP, the unsubscribe link).
RECIPIENT_EVENT_TYPES = ("message.replied", "message.bounced", "message.complained", "message.opted_out")


class MessagingHook(ProviderHook):
    hook_name = "Messaging"

    def __init__(self, channel: str, conn_id: str | None = None) -> None:
        if channel not in CHANNEL_CONNECTIONS:
            raise ValueError(f"unknown channel {channel!r}; one of {sorted(CHANNEL_CONNECTIONS)}")
        super().__init__(conn_id or CHANNEL_CONNECTIONS[channel])
        self.channel = channel
        self.system = channel

    def send(
        self, *, to: str, body: str, message_id: str, subject: str | None = None, template: str | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"to": to, "body": body, "message_id": message_id}
        if self.channel == "email":
            payload["subject"] = subject or ""
        if self.channel == "whatsapp":
            payload["template"] = template or "generic"
        return self.json("POST", "/messages", json=payload, idempotency_key=message_id)

    def open_conversation(
        self, *, address: str, correlation_key: str, idempotency_key: str
    ) -> dict[str, Any]:
        """Report what ``address`` does with our next messages under ``correlation_key`` (once per key)."""
        return self.json(
            "POST",
            "/conversations",
            json={"address": address, "correlation_key": correlation_key},
            idempotency_key=idempotency_key,
        )

    def close_conversation(
        self, conversation_id: str, *, reason: str, idempotency_key: str
    ) -> dict[str, Any]:
        """Stop routing the address's answers to us; one closed before counts as done."""
        return self.undo(
            f"/conversations/{conversation_id}/close",
            reason=reason,
            idempotency_key=idempotency_key,
            done=("already_closed",),
        )
