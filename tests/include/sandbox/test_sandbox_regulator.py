from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.include.sandbox.sandbox_testkit import SECRETS, Receiver

Count = Callable[[str, str], int]


def filing_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "merger_control",
        "subject": "D-77",
        "jurisdiction": "EU",
        "applicant": "Execution Plane Holdings",
        "summary": "Acquisition of Target Co by Execution Plane Holdings",
        "details": {"price_usd": 120_000_000},
        "correlation_key": "ma_offer:D-77:filing",
    }
    body.update(overrides)
    return body


@pytest.fixture
def filing_id(client: TestClient) -> str:
    created = client.post("/regulator/v1/filings", json=filing_body())
    assert created.status_code == 201
    assert created.json()["status"] == "submitted"
    filing_id: str = created.json()["filing_id"]
    return filing_id


def test_submit_and_get(client: TestClient, filing_id: str, effect_count: Count) -> None:
    filing = client.get(f"/regulator/v1/filings/{filing_id}").json()
    assert filing["status"] == "submitted"
    assert (filing["kind"], filing["subject"], filing["jurisdiction"]) == ("merger_control", "D-77", "EU")
    assert filing["reference"].startswith("MERGER_CONTROL-EU-")
    assert filing["details"] == {"price_usd": 120_000_000}
    assert filing["submitted_at"] is not None
    assert filing["acknowledged_at"] is None
    assert effect_count("regulator", "submit_filing") == 1


def test_a_market_entry_filing_is_just_another_kind(client: TestClient) -> None:
    created = client.post(
        "/regulator/v1/filings",
        json=filing_body(kind="market_entry", subject="BR", jurisdiction="BR", correlation_key="geo:BR"),
    ).json()
    assert created["reference"].startswith("MARKET_ENTRY-BR-")
    found = client.get("/regulator/v1/filings", params={"kind": "market_entry", "subject": "BR"}).json()
    assert [filing["filing_id"] for filing in found["filings"]] == [created["filing_id"]]


def test_submit_with_the_same_key_files_once(client: TestClient, effect_count: Count) -> None:
    headers = {"Idempotency-Key": "ma_offer:D-77:filing"}
    first = client.post("/regulator/v1/filings", json=filing_body(), headers=headers)
    second = client.post("/regulator/v1/filings", json=filing_body(), headers=headers)
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert effect_count("regulator", "submit_filing") == 1
    reused = client.post("/regulator/v1/filings", json=filing_body(subject="D-78"), headers=headers)
    assert reused.status_code == 422
    assert reused.json()["error"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    "override",
    [{"kind": "Merger Control"}, {"subject": ""}, {"correlation_key": ""}, {"document_sha256": "xyz"}],
)
def test_invalid_filings_are_422(client: TestClient, override: dict[str, Any], effect_count: Count) -> None:
    assert client.post("/regulator/v1/filings", json=filing_body(**override)).status_code == 422
    assert effect_count("regulator", "submit_filing") == 0


def test_credentials_are_required(anon: TestClient) -> None:
    assert anon.post("/regulator/v1/filings", json=filing_body()).status_code == 401


def test_list_by_correlation_key(client: TestClient, filing_id: str) -> None:
    found = client.get("/regulator/v1/filings", params={"correlation_key": "ma_offer:D-77:filing"}).json()
    assert found["count"] == 1
    assert found["filings"][0]["filing_id"] == filing_id
    assert client.get("/regulator/v1/filings", params={"correlation_key": "other"}).json()["count"] == 0


def test_unknown_filing_is_404(client: TestClient) -> None:
    response = client.get("/regulator/v1/filings/fil_nope")
    assert (response.status_code, response.json()["error"]) == (404, "filing_not_found")


@pytest.mark.parametrize(
    ("action", "status", "body"),
    [
        ("clear", "cleared", None),
        ("clear_with_conditions", "cleared_with_conditions", {"conditions": ["divest the EU unit"]}),
        ("refuse", "refused", {"reason": "significant impediment to competition"}),
    ],
)
def test_acknowledgement_then_decision_each_with_a_signed_webhook(
    client: TestClient,
    receiver: Receiver,
    filing_id: str,
    action: str,
    status: str,
    body: dict[str, Any] | None,
) -> None:
    acked = client.post(f"/_sandbox/regulator/filings/{filing_id}/acknowledge").json()
    assert acked["filing"]["status"] == "acknowledged"
    assert acked["deliveries"][0]["status_code"] == 200
    decided = client.post(f"/_sandbox/regulator/filings/{filing_id}/{action}", json=body).json()
    assert decided["filing"]["status"] == status

    first, second = receiver.received("/webhooks/events/regulator")
    for delivery in (first, second):
        delivery.verify(SECRETS["events"])
        assert set(delivery.json()) == {"event_id", "type", "correlation_key", "payload", "occurred_at"}
    assert first.json()["type"] == "filing.acknowledged"
    event = second.json()
    assert event == decided["event"]
    assert event["type"] == f"filing.{status}"
    assert event["correlation_key"] == "ma_offer:D-77:filing"
    assert event["payload"]["filing_id"] == filing_id
    assert event["payload"]["reference"] == decided["filing"]["reference"]
    assert event["payload"]["conditions"] == (body or {}).get("conditions", [])
    assert event["payload"]["reason"] == (body or {}).get("reason")
    assert event["occurred_at"] == decided["filing"]["decided_at"]


def test_conditions_must_be_named(client: TestClient, filing_id: str) -> None:
    client.post(f"/_sandbox/regulator/filings/{filing_id}/acknowledge")
    response = client.post(f"/_sandbox/regulator/filings/{filing_id}/clear_with_conditions", json={})
    assert (response.status_code, response.json()["error"]) == (422, "conditions_required")


def test_a_decision_needs_the_acknowledgement_first(client: TestClient, filing_id: str) -> None:
    response = client.post(f"/_sandbox/regulator/filings/{filing_id}/clear")
    assert response.status_code == 409
    assert (response.json()["error"], response.json()["status"]) == ("invalid_transition", "submitted")
    client.post(f"/_sandbox/regulator/filings/{filing_id}/acknowledge")
    client.post(f"/_sandbox/regulator/filings/{filing_id}/refuse")
    assert client.post(f"/_sandbox/regulator/filings/{filing_id}/clear").status_code == 409
    assert client.post(f"/_sandbox/regulator/filings/{filing_id}/approve").status_code == 422


def test_repeating_an_action_redelivers_the_same_event(
    client: TestClient, receiver: Receiver, filing_id: str
) -> None:
    first = client.post(f"/_sandbox/regulator/filings/{filing_id}/acknowledge").json()["event"]
    again = client.post(f"/_sandbox/regulator/filings/{filing_id}/acknowledge").json()["event"]
    assert again == first
    assert [d.json()["event_id"] for d in receiver.received()] == [first["event_id"]] * 2


def test_deliver_false_changes_state_silently(client: TestClient, receiver: Receiver, filing_id: str) -> None:
    """A lost webhook: only the applicant's status poll can find out."""
    result = client.post(f"/_sandbox/regulator/filings/{filing_id}/acknowledge", params={"deliver": "false"})
    assert result.json()["deliveries"] == []
    assert client.get(f"/regulator/v1/filings/{filing_id}").json()["status"] == "acknowledged"
    assert receiver.received() == []


def test_withdraw(client: TestClient, filing_id: str, effect_count: Count) -> None:
    response = client.post(f"/regulator/v1/filings/{filing_id}/withdraw", json={"reason": "offer withdrawn"})
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    filing = client.get(f"/regulator/v1/filings/{filing_id}").json()
    assert (filing["status"], filing["withdrawal_reason"]) == ("withdrawn", "offer withdrawn")
    assert effect_count("regulator", "withdraw_filing") == 1
    again = client.post(f"/regulator/v1/filings/{filing_id}/withdraw", json={"reason": "again"})
    assert (again.status_code, again.json()["error"]) == (409, "already_withdrawn")
    assert effect_count("regulator", "withdraw_filing") == 1


def test_a_cleared_filing_can_be_withdrawn_a_refused_one_cannot(client: TestClient) -> None:
    cleared, refused = (client.post("/regulator/v1/filings", json=filing_body()).json() for _ in range(2))
    for filing, decision in ((cleared, "clear"), (refused, "refuse")):
        client.post(f"/_sandbox/regulator/filings/{filing['filing_id']}/acknowledge")
        client.post(f"/_sandbox/regulator/filings/{filing['filing_id']}/{decision}")
    ok = client.post(f"/regulator/v1/filings/{cleared['filing_id']}/withdraw", json={"reason": "deal off"})
    assert ok.json()["status"] == "withdrawn"
    closed = client.post(f"/regulator/v1/filings/{refused['filing_id']}/withdraw", json={"reason": "x"})
    assert closed.status_code == 409
    assert (closed.json()["error"], closed.json()["status"]) == ("filing_not_withdrawable", "refused")


def test_withdraw_needs_a_reason(client: TestClient, filing_id: str) -> None:
    assert client.post(f"/regulator/v1/filings/{filing_id}/withdraw", json={}).status_code == 422


def test_faults_apply_to_the_regulator(client: TestClient, effect_count: Count) -> None:
    client.post(
        "/_sandbox/faults",
        json={"system": "regulator", "action": "submit_filing", "mode": "drop", "count": 1},
    )
    headers = {"Idempotency-Key": "k-drop"}
    lost = client.post("/regulator/v1/filings", json=filing_body(), headers=headers)
    assert lost.status_code == 504
    replayed = client.post("/regulator/v1/filings", json=filing_body(), headers=headers)
    assert replayed.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert effect_count("regulator", "submit_filing") == 1
