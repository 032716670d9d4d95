from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

Count = Callable[[str, str], int]

MESSAGES: list[tuple[str, dict[str, Any]]] = [
    (
        "email",
        {"to": "ceo@partner.example", "subject": "Your terms", "body": "Please review", "message_id": "m-e"},
    ),
    (
        "whatsapp",
        {"to": "+4915112345678", "template": "terms_ready", "body": "Terms ready", "message_id": "m-w"},
    ),
    ("sms", {"to": "+4915112345678", "body": "Terms ready", "message_id": "m-s"}),
]


@pytest.mark.parametrize(("channel", "message"), MESSAGES)
def test_send_returns_a_provider_message_id_and_logs_a_send(
    client: TestClient, effect_count: Count, channel: str, message: dict[str, Any]
) -> None:
    response = client.post(f"/{channel}/v1/messages", json=message)

    assert response.status_code == 201
    provider_message_id = response.json()["provider_message_id"]
    assert provider_message_id.startswith(f"{channel}_")
    assert effect_count(channel, "send") == 1
    effect = client.get("/_sandbox/effects", params={"system": channel}).json()["effects"][0]
    assert effect["resource_id"] == provider_message_id
    assert effect["payload"] == message


@pytest.mark.parametrize(("channel", "message"), MESSAGES)
def test_sent_messages_can_be_looked_up_by_our_message_id(
    client: TestClient, channel: str, message: dict[str, Any]
) -> None:
    """How a lost send response is reconciled without sending again."""
    provider_message_id = client.post(f"/{channel}/v1/messages", json=message).json()["provider_message_id"]
    found = client.get(f"/{channel}/v1/messages", params={"message_id": message["message_id"]}).json()
    assert [m["provider_message_id"] for m in found["messages"]] == [provider_message_id]
    assert client.get(f"/{channel}/v1/messages", params={"message_id": "other"}).json()["messages"] == []


@pytest.mark.parametrize(("channel", "message"), MESSAGES)
def test_the_same_message_id_with_an_idempotency_key_is_sent_once(
    client: TestClient, effect_count: Count, channel: str, message: dict[str, Any]
) -> None:
    headers = {"Idempotency-Key": message["message_id"]}
    first = client.post(f"/{channel}/v1/messages", json=message, headers=headers).json()
    second = client.post(f"/{channel}/v1/messages", json=message, headers=headers).json()
    assert first == second
    assert effect_count(channel, "send") == 1


def test_whatsapp_requires_a_template(client: TestClient) -> None:
    message = {"to": "+4915112345678", "body": "x", "message_id": "m"}
    assert client.post("/whatsapp/v1/messages", json=message).status_code == 422


def test_message_id_is_required(client: TestClient) -> None:
    assert client.post("/sms/v1/messages", json={"to": "+4915112345678", "body": "x"}).status_code == 422
