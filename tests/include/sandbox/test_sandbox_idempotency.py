from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient

from include.sandbox.provider import fingerprint

CreateBody = Callable[..., dict[str, Any]]
Count = Callable[[str, str], int]


def test_same_key_same_body_replays_without_a_new_effect(
    client: TestClient, envelope_request: CreateBody, effect_count: Count
) -> None:
    headers = {"Idempotency-Key": "term-sheet:P-1:send"}
    first = client.post("/esign/v1/envelopes", json=envelope_request(), headers=headers)
    second = client.post("/esign/v1/envelopes", json=envelope_request(), headers=headers)

    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert effect_count("esign", "create_envelope") == 1
    effect = client.get("/_sandbox/effects", params={"system": "esign"}).json()["effects"][0]
    assert effect["idempotency_key"] == "term-sheet:P-1:send"
    assert effect["resource_id"] == first.json()["envelope_id"]


def test_same_key_different_body_is_a_422_conflict(
    client: TestClient, envelope_request: CreateBody, effect_count: Count
) -> None:
    headers = {"Idempotency-Key": "k-conflict"}
    client.post("/esign/v1/envelopes", json=envelope_request(), headers=headers)
    response = client.post("/esign/v1/envelopes", json=envelope_request(subject="other"), headers=headers)

    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"
    assert effect_count("esign", "create_envelope") == 1


def test_json_key_order_and_spacing_do_not_make_a_different_request(
    client: TestClient, envelope_request: CreateBody, effect_count: Count
) -> None:
    body = envelope_request()
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    headers = {"Idempotency-Key": "k-canonical", "Content-Type": "application/json"}
    first = client.post("/esign/v1/envelopes", content=json.dumps(body), headers=headers)
    second = client.post("/esign/v1/envelopes", content=reordered, headers=headers)

    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.json() == second.json()
    assert effect_count("esign", "create_envelope") == 1


def test_without_a_key_every_request_is_a_separate_effect(
    client: TestClient, envelope_request: CreateBody, effect_count: Count
) -> None:
    ids = {
        client.post("/esign/v1/envelopes", json=envelope_request()).json()["envelope_id"] for _ in range(3)
    }
    assert len(ids) == 3
    assert effect_count("esign", "create_envelope") == 3


def test_keys_are_scoped_per_system(client: TestClient, effect_count: Count) -> None:
    headers = {"Idempotency-Key": "shared-key"}
    message = {"to": "+4915100000000", "body": "Hello", "message_id": "m-1"}
    email = client.post("/email/v1/messages", json={**message, "subject": "Hi"}, headers=headers)
    sms = client.post("/sms/v1/messages", json=message, headers=headers)

    assert email.status_code == sms.status_code == 201
    assert "Idempotent-Replayed" not in sms.headers
    assert effect_count("email", "send") == effect_count("sms", "send") == 1


def test_same_key_on_another_route_of_the_same_system_is_a_conflict(
    client: TestClient, envelope_request: CreateBody
) -> None:
    envelope_id = client.post("/esign/v1/envelopes", json=envelope_request()).json()["envelope_id"]
    headers = {"Idempotency-Key": "reused-across-routes"}
    client.post(f"/esign/v1/envelopes/{envelope_id}/void", json={"reason": "x"}, headers=headers)
    response = client.post("/esign/v1/envelopes", json=envelope_request(), headers=headers)
    assert response.status_code == 422


def test_business_errors_are_stored_and_replayed(client: TestClient) -> None:
    headers = {"Idempotency-Key": "void-missing"}
    first = client.post("/esign/v1/envelopes/env_missing/void", json={"reason": "x"}, headers=headers)
    second = client.post("/esign/v1/envelopes/env_missing/void", json={"reason": "x"}, headers=headers)
    assert first.status_code == second.status_code == 404
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["error"] == "envelope_not_found"


def test_validation_errors_do_not_burn_the_key(
    client: TestClient, envelope_request: CreateBody, effect_count: Count
) -> None:
    headers = {"Idempotency-Key": "k-invalid-first"}
    invalid = client.post("/esign/v1/envelopes", json={"subject": "missing fields"}, headers=headers)
    assert invalid.status_code == 422
    # The key was never used for work, so a corrected request with it is a first request, not a conflict.
    valid = client.post("/esign/v1/envelopes", json=envelope_request(), headers=headers)
    assert valid.status_code == 201
    assert effect_count("esign", "create_envelope") == 1


def test_get_requests_ignore_the_key(client: TestClient) -> None:
    response = client.get("/crm/v1/partners/P-1", headers={"Idempotency-Key": "k-get"})
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response.headers


def test_concurrent_first_requests_with_one_key_execute_once(
    client: TestClient, live_url: str, envelope_request: CreateBody, effect_count: Count
) -> None:
    client.post("/_sandbox/faults", json={"system": "esign", "mode": "slow", "delay_s": 1.5, "count": 1})
    headers = {"Authorization": "Bearer t", "Idempotency-Key": "k-race"}
    results: list[httpx.Response] = []

    def post() -> None:
        results.append(httpx.post(f"{live_url}/esign/v1/envelopes", json=envelope_request(), headers=headers))

    slow = threading.Thread(target=post)
    slow.start()
    # Wait until the slow request holds the key, then race it.
    for _ in range(200):
        if not client.get("/_sandbox/faults").json()["faults"]:
            break
        time.sleep(0.01)
    time.sleep(0.1)
    post()
    slow.join()

    statuses = sorted(response.status_code for response in results)
    assert statuses == [201, 409]
    busy = next(response for response in results if response.status_code == 409)
    assert busy.json()["error"] == "idempotency_key_in_use"
    assert effect_count("esign", "create_envelope") == 1


def test_fingerprint_canonicalises_json_but_not_raw_bytes() -> None:
    assert fingerprint("POST", "/x", b'{"a":1,"b":2}') == fingerprint("POST", "/x", b'{ "b": 2, "a": 1 }')
    assert fingerprint("POST", "/x", b"\x00raw") != fingerprint("POST", "/x", b"\x00raw2")
    assert fingerprint("POST", "/x", b"{}") != fingerprint("POST", "/y", b"{}")
