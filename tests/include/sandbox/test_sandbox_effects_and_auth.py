from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

CreateBody = Callable[..., dict[str, Any]]


def test_every_effect_is_logged_with_its_context(client: TestClient, envelope_request: CreateBody) -> None:
    created = client.post("/esign/v1/envelopes", json=envelope_request(), headers={"Idempotency-Key": "k1"})
    client.post("/crm/v1/notes", json={"subject_id": "D-1", "text": "signed"})

    effects = client.get("/_sandbox/effects").json()["effects"]
    assert [(effect["seq"], effect["system"], effect["action"]) for effect in effects] == [
        (1, "esign", "create_envelope"),
        (2, "crm", "create_note"),
    ]
    first = effects[0]
    assert first["idempotency_key"] == "k1"
    assert first["resource_id"] == created.json()["envelope_id"]
    assert first["payload"]["correlation_key"] == "term-sheet:P-1"
    assert first["at"].endswith("Z")
    assert effects[1]["idempotency_key"] is None


def test_effects_filter_by_system_action_resource_and_key(
    client: TestClient, envelope_request: CreateBody
) -> None:
    envelope_id = client.post("/esign/v1/envelopes", json=envelope_request()).json()["envelope_id"]
    client.post(
        f"/esign/v1/envelopes/{envelope_id}/void",
        json={"reason": "expired"},
        headers={"Idempotency-Key": "v"},
    )
    client.post("/esign/v1/envelopes", json=envelope_request())

    def count(**params: str) -> int:
        found: int = client.get("/_sandbox/effects", params=params).json()["count"]
        return found

    assert count(system="esign") == 3
    assert count(system="esign", action="void") == 0
    assert count(system="esign", action="void_envelope") == 1
    assert count(resource_id=envelope_id) == 2
    assert count(idempotency_key="v") == 1


def test_summary_counts_per_system_and_action(client: TestClient) -> None:
    for message_id in ("m1", "m2"):
        client.post("/sms/v1/messages", json={"to": "+15550001", "body": "x", "message_id": message_id})
    client.post(
        "/email/v1/messages", json={"to": "a@b.example", "subject": "s", "body": "b", "message_id": "m3"}
    )
    client.get("/crm/v1/partners/P-1")  # reads are not effects

    summary = client.get("/_sandbox/effects/summary").json()
    assert summary == {"total": 3, "counts": {"sms": {"send": 2}, "email": {"send": 1}}}


def test_reset_clears_resources_effects_keys_faults_and_deliveries(
    client: TestClient, envelope_request: CreateBody
) -> None:
    envelope_id = client.post(
        "/esign/v1/envelopes", json=envelope_request(), headers={"Idempotency-Key": "k"}
    )
    client.post(f"/_sandbox/esign/envelopes/{envelope_id.json()['envelope_id']}/sign")
    client.post("/_sandbox/faults", json={"system": "crm"})

    assert client.post("/_sandbox/reset").json() == {"status": "reset"}

    assert client.get("/_sandbox/effects").json()["count"] == 0
    assert client.get("/_sandbox/deliveries").json()["count"] == 0
    assert client.get("/_sandbox/faults").json()["faults"] == []
    assert client.get(f"/esign/v1/envelopes/{envelope_id.json()['envelope_id']}").status_code == 404
    again = client.post("/esign/v1/envelopes", json=envelope_request(), headers={"Idempotency-Key": "k"})
    assert "Idempotent-Replayed" not in again.headers


def test_reset_keeps_the_config(client: TestClient) -> None:
    client.post("/_sandbox/config", json={"webhook_duplicates": 3})
    client.post("/_sandbox/reset")
    assert client.get("/_sandbox/config").json()["webhook_duplicates"] == 3


PROVIDER_ROUTES = [
    ("GET", "/crm/v1/partners/P-1"),
    ("POST", "/crm/v1/notes"),
    ("POST", "/esign/v1/envelopes"),
    ("GET", "/esign/v1/envelopes/env_1"),
    ("POST", "/email/v1/messages"),
    ("POST", "/whatsapp/v1/messages"),
    ("POST", "/sms/v1/messages"),
    ("GET", "/calcom/v1/slots?start=2026-01-05"),
    ("POST", "/llm/v1/chat/completions"),
    ("PUT", "/docstore/v1/objects/" + "0" * 64),
    ("GET", "/docstore/v1/rooms/R-1/documents"),
    ("GET", "/research/v1/companies/acme.example"),
    ("GET", "/financials/v1/companies/co_1"),
]


@pytest.mark.parametrize(("method", "path"), PROVIDER_ROUTES)
def test_provider_routes_require_credentials(anon: TestClient, method: str, path: str) -> None:
    response = anon.request(method, path, json={})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("authorization", ["Bearer", "Bearer   ", "Basic abc", "token"])
def test_malformed_bearer_is_rejected(anon: TestClient, authorization: str) -> None:
    assert anon.get("/crm/v1/partners/P-1", headers={"Authorization": authorization}).status_code == 401


def test_api_key_is_accepted(anon: TestClient) -> None:
    assert anon.get("/crm/v1/partners/P-1", headers={"X-API-Key": "k"}).status_code == 200


def test_control_routes_need_no_credentials(anon: TestClient) -> None:
    assert anon.get("/_sandbox/health").json()["status"] == "ok"
    assert anon.get("/_sandbox/effects/summary").status_code == 200
    assert anon.post("/_sandbox/reset").status_code == 200


def test_config_hides_secrets_and_accepts_partial_updates(client: TestClient) -> None:
    before = client.get("/_sandbox/config").json()
    assert before["esign_secret"] == "***"
    updated = client.post("/_sandbox/config", json={"webhook_delay_s": 0.5, "esign_secret": None}).json()
    assert updated["webhook_delay_s"] == 0.5
    assert updated["esign_secret"] == "***"
    assert updated["webhook_base"] == before["webhook_base"]
    assert client.post("/_sandbox/config", json={"webhook_base": None}).json()["webhook_base"] is None
    assert client.post("/_sandbox/config", json={"webhook_duplicates": 0}).status_code == 422
