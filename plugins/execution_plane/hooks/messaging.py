"""Outbound messages: email, WhatsApp and SMS providers share one shape."""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderHook

CHANNEL_CONNECTIONS = {"email": "email_default", "whatsapp": "whatsapp_default", "sms": "sms_default"}


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
