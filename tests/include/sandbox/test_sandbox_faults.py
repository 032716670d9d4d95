from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

CreateBody = Callable[..., dict[str, Any]]
Count = Callable[[str, str], int]


def _fault(client: TestClient, **fault: Any) -> dict[str, Any]:
    response = client.post("/_sandbox/faults", json=fault)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_error_mode_fails_the_next_n_requests_then_recovers(
    client: TestClient, envelope_request: CreateBody, effect_count: Count
) -> None:
    _fault(client, system="esign", action="create_envelope", mode="error", status=503, count=2)
    headers = {"Idempotency-Key": "k-error"}
    statuses = [
        client.post("/esign/v1/envelopes", json=envelope_request(), headers=headers) for _ in range(3)
    ]

    assert [response.status_code for response in statuses] == [503, 503, 201]
    assert statuses[0].json()["error"] == "injected_fault"
    assert statuses[0].headers["Retry-After"] == "1"
    # The failures stored nothing: the third request with the same key executed for real.
    assert "Idempotent-Replayed" not in statuses[2].headers
    assert effect_count("esign", "create_envelope") == 1
    assert client.get("/_sandbox/faults").json()["faults"] == []


def test_error_mode_uses_the_requested_status(client: TestClient) -> None:
    _fault(client, system="crm", mode="error", status=429)
    assert client.get("/crm/v1/partners/P-1").status_code == 429
    assert client.get("/crm/v1/partners/P-1").status_code == 200


def test_fault_matches_only_its_action(client: TestClient, envelope_request: CreateBody) -> None:
    envelope_id = client.post("/esign/v1/envelopes", json=envelope_request()).json()["envelope_id"]
    _fault(client, system="esign", action="void_envelope", mode="error", status=500)

    assert client.get(f"/esign/v1/envelopes/{envelope_id}").status_code == 200
    assert client.post("/esign/v1/envelopes", json=envelope_request()).status_code == 201
    assert client.post(f"/esign/v1/envelopes/{envelope_id}/void", json={"reason": "x"}).status_code == 500
    assert client.post(f"/esign/v1/envelopes/{envelope_id}/void", json={"reason": "x"}).status_code == 200


def test_fault_without_action_matches_any_route_of_the_system(client: TestClient) -> None:
    _fault(client, system="crm", action=None, mode="error", count=2)
    assert client.get("/crm/v1/deals/D-1").status_code == 503
    assert client.post("/crm/v1/notes", json={"subject_id": "D-1", "text": "x"}).status_code == 503
    assert client.get("/email/v1/messages", params={"message_id": "m"}).status_code == 200
    assert client.get("/crm/v1/deals/D-1").status_code == 200


def test_slow_mode_delays_the_answer(client: TestClient, effect_count: Count) -> None:
    _fault(client, system="sms", mode="slow", delay_s=0.4)
    started = time.monotonic()
    response = client.post("/sms/v1/messages", json={"to": "+100", "body": "hi", "message_id": "m-slow"})
    assert response.status_code == 201
    assert time.monotonic() - started >= 0.4
    assert effect_count("sms", "send") == 1


def test_drop_mode_does_the_work_but_loses_the_response(
    client: TestClient, envelope_request: CreateBody, effect_count: Count
) -> None:
    _fault(client, system="esign", action="create_envelope", mode="drop")
    headers = {"Idempotency-Key": "k-drop"}
    lost = client.post("/esign/v1/envelopes", json=envelope_request(), headers=headers)
    assert lost.status_code == 504
    assert "envelope_id" not in lost.json()
    assert effect_count("esign", "create_envelope") == 1

    retry = client.post("/esign/v1/envelopes", json=envelope_request(), headers=headers)
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert effect_count("esign", "create_envelope") == 1
    created = client.get("/_sandbox/effects", params={"system": "esign"}).json()["effects"][0]
    assert created["resource_id"] == retry.json()["envelope_id"]


def test_drop_without_a_key_means_a_retry_does_it_twice(
    client: TestClient, envelope_request: CreateBody, effect_count: Count
) -> None:
    """Why our hooks must send Idempotency-Key: the provider cannot tell a retry from a new request."""
    _fault(client, system="esign", action="create_envelope", mode="drop")
    assert client.post("/esign/v1/envelopes", json=envelope_request()).status_code == 504
    assert client.post("/esign/v1/envelopes", json=envelope_request()).status_code == 201
    assert effect_count("esign", "create_envelope") == 2


def test_client_timeout_on_slow_provider_then_retry_is_exactly_once(
    client: TestClient, live_url: str, envelope_request: CreateBody, effect_count: Count
) -> None:
    _fault(client, system="esign", action="create_envelope", mode="slow", delay_s=1.5)
    headers = {"Authorization": "Bearer t", "Idempotency-Key": "k-timeout"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{live_url}/esign/v1/envelopes", json=envelope_request(), headers=headers, timeout=0.2)

    in_progress = httpx.post(f"{live_url}/esign/v1/envelopes", json=envelope_request(), headers=headers)
    assert in_progress.status_code == 409
    assert in_progress.json()["error"] == "idempotency_key_in_use"

    deadline = time.monotonic() + 10
    replay = in_progress
    while replay.status_code == 409 and time.monotonic() < deadline:
        time.sleep(0.1)
        replay = httpx.post(f"{live_url}/esign/v1/envelopes", json=envelope_request(), headers=headers)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert effect_count("esign", "create_envelope") == 1


def test_faults_are_listed_and_cleared(client: TestClient) -> None:
    fault = _fault(client, system="llm", action="completion", mode="error", status=502, count=5)
    assert fault["remaining"] == 5
    assert [listed["fault_id"] for listed in client.get("/_sandbox/faults").json()["faults"]] == [
        fault["fault_id"]
    ]
    assert client.delete("/_sandbox/faults").status_code == 200
    assert client.get("/_sandbox/faults").json()["faults"] == []


@pytest.mark.parametrize(
    "fault",
    [
        {"system": "esign", "mode": "explode"},
        {"system": "esign", "status": 200},
        {"system": "esign", "count": 0},
        {"mode": "error"},
    ],
)
def test_invalid_faults_are_rejected(client: TestClient, fault: dict[str, Any]) -> None:
    assert client.post("/_sandbox/faults", json=fault).status_code == 422


def test_unauthenticated_requests_do_not_consume_faults(anon: TestClient, client: TestClient) -> None:
    _fault(client, system="crm", mode="error")
    assert anon.get("/crm/v1/partners/P-1").status_code == 401
    assert client.get("/crm/v1/partners/P-1").status_code == 503
