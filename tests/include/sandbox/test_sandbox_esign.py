from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.include.sandbox.sandbox_testkit import SECRETS, Receiver

CreateBody = Callable[..., dict[str, Any]]
Count = Callable[[str, str], int]


@pytest.fixture
def envelope_id(client: TestClient, envelope_request: CreateBody) -> str:
    created = client.post("/esign/v1/envelopes", json=envelope_request())
    assert created.status_code == 201
    assert created.json()["status"] == "sent"
    envelope_id: str = created.json()["envelope_id"]
    return envelope_id


def test_create_and_get_envelope(client: TestClient, envelope_id: str, effect_count: Count) -> None:
    envelope = client.get(f"/esign/v1/envelopes/{envelope_id}").json()
    assert envelope["status"] == "sent"
    assert envelope["correlation_key"] == "term-sheet:P-1"
    assert envelope["signers"] == [{"email": "ceo@partner.example", "name": "Dana Partner"}]
    assert envelope["sent_at"] is not None
    assert envelope["signed_at"] is None
    assert effect_count("esign", "create_envelope") == 1


def test_unknown_envelope_is_404(client: TestClient) -> None:
    response = client.get("/esign/v1/envelopes/env_nope")
    assert response.status_code == 404
    assert response.json()["error"] == "envelope_not_found"


def test_create_requires_signers(client: TestClient, envelope_request: CreateBody) -> None:
    assert client.post("/esign/v1/envelopes", json=envelope_request(signers=[])).status_code == 422


@pytest.mark.parametrize(
    ("action", "status"), [("sign", "signed"), ("decline", "declined"), ("expire", "expired")]
)
def test_signer_actions_change_state_and_deliver_a_signed_webhook(
    client: TestClient, receiver: Receiver, envelope_id: str, action: str, status: str
) -> None:
    result = client.post(f"/_sandbox/esign/envelopes/{envelope_id}/{action}").json()

    assert result["envelope"]["status"] == status
    assert result["deliveries"][0]["status_code"] == 200
    envelope = client.get(f"/esign/v1/envelopes/{envelope_id}").json()
    assert envelope["status"] == status
    assert envelope[f"{status}_at"] is not None

    (delivery,) = receiver.received("/webhooks/esign")
    delivery.verify(SECRETS["esign"])
    body = delivery.json()
    assert set(body) == {"event_id", "type", "envelope_id", "correlation_key", "occurred_at"}
    assert body["type"] == f"envelope.{status}"
    assert body["envelope_id"] == envelope_id
    assert body["correlation_key"] == "term-sheet:P-1"
    assert body["occurred_at"] == envelope[f"{status}_at"]
    assert body == result["event"]


def test_event_ids_are_unique_per_state_and_stable_on_redelivery(
    client: TestClient, receiver: Receiver, envelope_request: CreateBody, envelope_id: str
) -> None:
    signed = client.post(f"/_sandbox/esign/envelopes/{envelope_id}/sign").json()["event"]
    redelivered = client.post(f"/_sandbox/esign/envelopes/{envelope_id}/sign").json()["event"]
    assert redelivered == signed
    assert [d.json()["event_id"] for d in receiver.received()] == [signed["event_id"]] * 2

    other_id = client.post("/esign/v1/envelopes", json=envelope_request()).json()["envelope_id"]
    declined = client.post(f"/_sandbox/esign/envelopes/{other_id}/decline").json()["event"]
    assert declined["event_id"] != signed["event_id"]


def test_deliver_false_changes_state_silently(
    client: TestClient, receiver: Receiver, envelope_id: str
) -> None:
    """A lost webhook: only the DAG's status poll can find out."""
    result = client.post(f"/_sandbox/esign/envelopes/{envelope_id}/sign", params={"deliver": "false"}).json()
    assert result["deliveries"] == []
    assert client.get(f"/esign/v1/envelopes/{envelope_id}").json()["status"] == "signed"
    assert receiver.received() == []
    assert client.get("/_sandbox/deliveries").json()["count"] == 0


def test_invalid_transitions_are_409(client: TestClient, envelope_id: str) -> None:
    client.post(f"/_sandbox/esign/envelopes/{envelope_id}/decline")
    response = client.post(f"/_sandbox/esign/envelopes/{envelope_id}/sign")
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_transition"
    assert response.json()["status"] == "declined"
    assert client.post("/_sandbox/esign/envelopes/env_nope/sign").status_code == 404
    assert client.post(f"/_sandbox/esign/envelopes/{envelope_id}/shred").status_code == 422


def test_void_a_sent_envelope(client: TestClient, envelope_id: str, effect_count: Count) -> None:
    response = client.post(f"/esign/v1/envelopes/{envelope_id}/void", json={"reason": "terms expired"})
    assert response.status_code == 200
    assert response.json()["status"] == "voided"
    envelope = client.get(f"/esign/v1/envelopes/{envelope_id}").json()
    assert envelope["status"] == "voided"
    assert envelope["void_reason"] == "terms expired"
    assert effect_count("esign", "void_envelope") == 1


def test_void_twice_with_the_same_key_replays(
    client: TestClient, envelope_id: str, effect_count: Count
) -> None:
    headers = {"Idempotency-Key": f"void:{envelope_id}"}
    first = client.post(f"/esign/v1/envelopes/{envelope_id}/void", json={"reason": "x"}, headers=headers)
    second = client.post(f"/esign/v1/envelopes/{envelope_id}/void", json={"reason": "x"}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert effect_count("esign", "void_envelope") == 1


def test_void_twice_without_the_key_is_already_voided(
    client: TestClient, envelope_id: str, effect_count: Count
) -> None:
    client.post(f"/esign/v1/envelopes/{envelope_id}/void", json={"reason": "x"})
    again = client.post(f"/esign/v1/envelopes/{envelope_id}/void", json={"reason": "x"})
    assert again.status_code == 409
    assert again.json()["error"] == "already_voided"
    assert effect_count("esign", "void_envelope") == 1


def test_a_signed_envelope_cannot_be_voided(
    client: TestClient, envelope_id: str, effect_count: Count
) -> None:
    client.post(f"/_sandbox/esign/envelopes/{envelope_id}/sign")
    response = client.post(f"/esign/v1/envelopes/{envelope_id}/void", json={"reason": "x"})
    assert response.status_code == 409
    assert response.json()["status"] == "signed"
    assert effect_count("esign", "void_envelope") == 0


def test_void_needs_a_reason(client: TestClient, envelope_id: str) -> None:
    assert client.post(f"/esign/v1/envelopes/{envelope_id}/void", json={}).status_code == 422
