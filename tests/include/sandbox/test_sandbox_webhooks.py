from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from include.security.hmac_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError
from tests.include.sandbox.sandbox_testkit import SECRETS, Receiver

CreateBody = Callable[..., dict[str, Any]]

PARTNER_ANSWER = {
    "source": "partner",
    "event_id": "partner-answer-1",
    "type": "partner.terms_accepted",
    "correlation_key": "partner-approval:P-1",
    "payload": {"accepted": True, "comment": "OK for us"},
}


def test_outside_event_is_delivered_to_its_source_path_signed_with_the_events_secret(
    client: TestClient, receiver: Receiver
) -> None:
    result = client.post("/_sandbox/events", json=PARTNER_ANSWER).json()

    (delivery,) = receiver.received("/webhooks/events/partner")
    delivery.verify(SECRETS["events"])
    body = delivery.json()
    assert set(body) == {"event_id", "type", "correlation_key", "payload", "occurred_at"}
    assert body["event_id"] == "partner-answer-1"
    assert body["payload"] == {"accepted": True, "comment": "OK for us"}
    assert result["deliveries"][0]["url"] == f"{receiver.base_url}/webhooks/events/partner"
    assert delivery.headers["Content-Type"] == "application/json"
    assert delivery.headers["X-EP-Delivery-Id"] == result["deliveries"][0]["delivery_id"]


def test_webhook_signed_with_one_secret_fails_verification_with_another(
    client: TestClient, receiver: Receiver
) -> None:
    client.post("/_sandbox/events", json=PARTNER_ANSWER)
    (delivery,) = receiver.received()
    with pytest.raises(SignatureError):
        delivery.verify(SECRETS["esign"])
    assert delivery.headers[SIGNATURE_HEADER].startswith("sha256=")
    assert abs(int(delivery.headers[TIMESTAMP_HEADER]) - time.time()) < 60


def test_event_id_is_generated_when_missing(client: TestClient, receiver: Receiver) -> None:
    event = {key: value for key, value in PARTNER_ANSWER.items() if key != "event_id"}
    first = client.post("/_sandbox/events", json=event).json()["event"]["event_id"]
    second = client.post("/_sandbox/events", json=event).json()["event"]["event_id"]
    assert first != second


def test_regulator_filing_goes_to_its_own_source(client: TestClient, receiver: Receiver) -> None:
    filing = {**PARTNER_ANSWER, "source": "regulator", "event_id": "filing-9", "type": "regulator.approved"}
    client.post("/_sandbox/events", json=filing)
    assert [d.path for d in receiver.received()] == ["/webhooks/events/regulator"]


def test_invalid_source_is_rejected(client: TestClient) -> None:
    assert client.post("/_sandbox/events", json={**PARTNER_ANSWER, "source": "../esign"}).status_code == 422


def test_duplicates_deliver_the_same_event_n_times(
    client: TestClient, receiver: Receiver, envelope_request: CreateBody
) -> None:
    client.post("/_sandbox/config", json={"webhook_duplicates": 3})
    envelope_id = client.post("/esign/v1/envelopes", json=envelope_request()).json()["envelope_id"]
    result = client.post(f"/_sandbox/esign/envelopes/{envelope_id}/sign").json()

    assert result["queued"] == 3
    assert [d["copy"] for d in result["deliveries"]] == [1, 2, 3]
    deliveries = receiver.received("/webhooks/esign")
    assert len(deliveries) == 3
    assert len({d.body for d in deliveries}) == 1
    for delivery in deliveries:
        delivery.verify(SECRETS["esign"])
    assert len({d.headers["X-EP-Delivery-Id"] for d in deliveries}) == 3


def test_failed_deliveries_are_retried_and_logged(client: TestClient, receiver: Receiver) -> None:
    receiver.statuses = [503, 502]
    result = client.post("/_sandbox/events", json=PARTNER_ANSWER).json()

    final = result["deliveries"][0]
    assert (final["attempt"], final["status_code"], final["ok"]) == (3, 200, True)
    log = client.get("/_sandbox/deliveries", params={"event_id": "partner-answer-1"}).json()["deliveries"]
    assert [(d["attempt"], d["status_code"]) for d in log] == [(1, 503), (2, 502), (3, 200)]
    assert len(receiver.received()) == 3


def test_retries_stop_after_three_attempts(client: TestClient, receiver: Receiver) -> None:
    receiver.statuses = [500, 500, 500, 500]
    final = client.post("/_sandbox/events", json=PARTNER_ANSWER).json()["deliveries"][0]
    assert (final["attempt"], final["ok"]) == (3, False)
    assert len(receiver.received()) == 3


def test_a_4xx_refusal_is_not_retried(client: TestClient, receiver: Receiver) -> None:
    receiver.statuses = [401]
    final = client.post("/_sandbox/events", json=PARTNER_ANSWER).json()["deliveries"][0]
    assert (final["attempt"], final["status_code"], final["ok"]) == (1, 401, False)


def test_unreachable_receiver_is_retried_then_reported(client: TestClient) -> None:
    client.post(
        "/_sandbox/config", json={"webhook_base": "http://127.0.0.1:9/webhooks", "webhook_timeout_s": 0.5}
    )
    final = client.post("/_sandbox/events", json=PARTNER_ANSWER).json()["deliveries"][0]
    assert final["attempt"] == 3
    assert final["status_code"] is None
    assert final["error"]


def test_without_a_webhook_base_the_failure_is_recorded(client: TestClient) -> None:
    client.post("/_sandbox/config", json={"webhook_base": None})
    final = client.post("/_sandbox/events", json=PARTNER_ANSWER).json()["deliveries"][0]
    assert (final["attempt"], final["ok"], final["error"]) == (1, False, "webhook_base is not configured")


def test_wait_false_returns_at_once_and_delivers_in_the_background(
    client: TestClient, receiver: Receiver
) -> None:
    client.post("/_sandbox/config", json={"webhook_delay_s": 1.0})
    result = client.post("/_sandbox/events", params={"wait": "false"}, json=PARTNER_ANSWER).json()
    # Returned before the delivery (held back 1 s) happened: nothing received yet, nothing reported.
    assert (result["queued"], result["deliveries"]) == (1, [])
    assert receiver.received() == []
    receiver.wait_for(1)


def test_webhook_delay_is_applied_when_waiting(client: TestClient, receiver: Receiver) -> None:
    client.post("/_sandbox/config", json={"webhook_delay_s": 0.3})
    started = time.monotonic()
    client.post("/_sandbox/events", json=PARTNER_ANSWER)
    assert time.monotonic() - started >= 0.3
    assert len(receiver.received()) == 1


def test_secrets_can_be_rotated_at_runtime(client: TestClient, receiver: Receiver) -> None:
    client.post("/_sandbox/config", json={"events_secret": "rotated"})
    client.post("/_sandbox/events", json=PARTNER_ANSWER)
    receiver.received()[0].verify("rotated")
