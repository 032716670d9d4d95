"""Legal counsel and financial advisors: the same review API, each its own system and webhook source."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.include.sandbox.sandbox_testkit import SECRETS, Receiver

Count = Callable[[str, str], int]
SYSTEMS = ("counsel", "advisor")


def review_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "matter": "ma_offer:D-7",
        "subject": "Offer to Target Co, version 1",
        "document_sha256": "b" * 64,
        "document_uri": "docstore://objects/" + "b" * 64,
        "instructions": "Review the offer letter",
        "details": {"price_usd": 100},
        "correlation_key": "ma_offer:D-7:review:1",
    }
    body.update(overrides)
    return body


@pytest.fixture(params=SYSTEMS)
def system(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def review_id(client: TestClient, system: str) -> str:
    created = client.post(f"/{system}/v1/reviews", json=review_body())
    assert created.status_code == 201
    assert created.json()["status"] == "in_review"
    review_id: str = created.json()["review_id"]
    return review_id


def test_request_and_get(client: TestClient, system: str, review_id: str, effect_count: Count) -> None:
    review = client.get(f"/{system}/v1/reviews/{review_id}").json()
    assert review["status"] == "in_review"
    assert (review["matter"], review["details"]) == ("ma_offer:D-7", {"price_usd": 100})
    assert review["requested_at"] is not None
    assert effect_count(system, "request_review") == 1
    other = "advisor" if system == "counsel" else "counsel"
    assert effect_count(other, "request_review") == 0
    assert client.get(f"/{other}/v1/reviews/{review_id}").status_code == 404


def test_request_with_the_same_key_asks_once(client: TestClient, system: str, effect_count: Count) -> None:
    headers = {"Idempotency-Key": "ma_offer:D-7:review:1"}
    first = client.post(f"/{system}/v1/reviews", json=review_body(), headers=headers)
    second = client.post(f"/{system}/v1/reviews", json=review_body(), headers=headers)
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert effect_count(system, "request_review") == 1


def test_invalid_request_and_credentials(client: TestClient, anon: TestClient, system: str) -> None:
    assert client.post(f"/{system}/v1/reviews", json=review_body(document_sha256="x")).status_code == 422
    assert client.post(f"/{system}/v1/reviews", json=review_body(matter="")).status_code == 422
    assert anon.post(f"/{system}/v1/reviews", json=review_body()).status_code == 401


@pytest.mark.parametrize(
    ("action", "status", "body"),
    [
        ("opinion", "opinion_issued", {"summary": "fair to shareholders", "details": {"low_usd": 90}}),
        ("request_changes", "changes_requested", {"summary": "not yet", "changes": ["cap the earn-out"]}),
    ],
)
def test_answer_sends_a_signed_webhook_to_the_firms_source(
    client: TestClient,
    receiver: Receiver,
    system: str,
    review_id: str,
    action: str,
    status: str,
    body: dict[str, Any],
) -> None:
    result = client.post(f"/_sandbox/{system}/reviews/{review_id}/{action}", json=body).json()
    assert result["review"]["status"] == status
    (delivery,) = receiver.received(f"/webhooks/events/{system}")
    delivery.verify(SECRETS["events"])
    event = delivery.json()
    assert event == result["event"]
    assert set(event) == {"event_id", "type", "correlation_key", "payload", "occurred_at"}
    assert event["type"] == f"review.{status}"
    assert event["correlation_key"] == "ma_offer:D-7:review:1"
    payload = event["payload"]
    assert (payload["review_id"], payload["reviewer"], payload["status"]) == (review_id, system, status)
    assert payload["summary"] == body["summary"]
    assert payload["changes"] == body.get("changes", [])
    assert payload["details"] == body.get("details", {})
    assert client.get(f"/{system}/v1/reviews/{review_id}").json()["status"] == status


def test_a_change_request_names_the_changes(client: TestClient, system: str, review_id: str) -> None:
    response = client.post(f"/_sandbox/{system}/reviews/{review_id}/request_changes", json={"summary": "x"})
    assert (response.status_code, response.json()["error"]) == (422, "changes_required")


def test_repeat_redelivers_another_answer_is_409(
    client: TestClient, receiver: Receiver, system: str, review_id: str
) -> None:
    first = client.post(f"/_sandbox/{system}/reviews/{review_id}/opinion").json()["event"]
    again = client.post(f"/_sandbox/{system}/reviews/{review_id}/opinion").json()["event"]
    assert again == first
    assert [d.json()["event_id"] for d in receiver.received()] == [first["event_id"]] * 2
    changes = client.post(f"/_sandbox/{system}/reviews/{review_id}/request_changes", json={"changes": ["c"]})
    assert (changes.status_code, changes.json()["error"]) == (409, "invalid_transition")
    assert client.post(f"/_sandbox/{system}/reviews/{review_id}/approve").status_code == 422


def test_deliver_false_changes_state_silently(
    client: TestClient, receiver: Receiver, system: str, review_id: str
) -> None:
    result = client.post(f"/_sandbox/{system}/reviews/{review_id}/opinion", params={"deliver": "false"})
    assert result.json()["deliveries"] == []
    assert client.get(f"/{system}/v1/reviews/{review_id}").json()["status"] == "opinion_issued"
    assert receiver.received() == []


def test_cancel_an_open_review(client: TestClient, system: str, review_id: str, effect_count: Count) -> None:
    response = client.post(f"/{system}/v1/reviews/{review_id}/cancel", json={"reason": "offer withdrawn"})
    assert response.json()["status"] == "cancelled"
    review = client.get(f"/{system}/v1/reviews/{review_id}").json()
    assert (review["status"], review["cancel_reason"]) == ("cancelled", "offer withdrawn")
    again = client.post(f"/{system}/v1/reviews/{review_id}/cancel", json={"reason": "x"})
    assert (again.status_code, again.json()["error"]) == (409, "already_cancelled")
    assert effect_count(system, "cancel_review") == 1
    late = client.post(f"/_sandbox/{system}/reviews/{review_id}/opinion")
    assert late.status_code == 409


def test_an_answered_review_is_closed(
    client: TestClient, system: str, review_id: str, effect_count: Count
) -> None:
    client.post(f"/_sandbox/{system}/reviews/{review_id}/opinion")
    response = client.post(f"/{system}/v1/reviews/{review_id}/cancel", json={"reason": "x"})
    assert response.status_code == 409
    assert (response.json()["error"], response.json()["status"]) == ("review_closed", "opinion_issued")
    assert effect_count(system, "cancel_review") == 0


def test_faults_apply_per_firm(client: TestClient, system: str) -> None:
    client.post("/_sandbox/faults", json={"system": system, "action": "request_review", "status": 503})
    assert client.post(f"/{system}/v1/reviews", json=review_body()).status_code == 503
    assert client.post(f"/{system}/v1/reviews", json=review_body()).status_code == 201
