"""POST /services/audit-events: chained once per event id, through the toolkit's hash chain."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient

from tests.plugins.services.conftest import bearer, count

ROUTE = "/services/audit-events"


def event(tag: str, **overrides: Any) -> dict[str, Any]:
    return {
        "event_id": f"ev-{tag}",
        "component": "partner-portal",
        "actor": "manager",
        "action": "terms.viewed",
        "workflow_id": f"partner_approval:{tag}",
        "occurred_at": "2026-12-05T10:00:00Z",
        "details": {"ip": "10.0.0.1", "pages": [1, 2]},
        **overrides,
    }


def chained(business_db: Any, tag: str) -> int:
    return count(business_db, "SELECT count(*) FROM audit_log WHERE details->>'event_id' = %s", f"ev-{tag}")


def test_an_event_is_chained_once_and_a_redelivery_gets_the_same_link(
    services_client: TestClient, tokens: dict[str, str], business_db: Any, tag: str
) -> None:
    first = services_client.post(ROUTE, json=event(tag), headers=bearer(tokens["service"]))
    assert first.status_code == 201, first.text
    assert first.json()["stored"] == "created"
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT id, actor, workflow_id, action, details, hash FROM audit_log WHERE id = %s",
            (first.json()["audit_id"],),
        )
        row = cur.fetchone()
    assert row == (
        first.json()["audit_id"],
        "manager",
        f"partner_approval:{tag}",
        "terms.viewed",
        {
            "event_id": f"ev-{tag}",
            "component": "partner-portal",
            "occurred_at": "2026-12-05T10:00:00+00:00",
            "details": {"ip": "10.0.0.1", "pages": [1, 2]},
        },
        first.json()["hash"],
    )
    again = services_client.post(ROUTE, json=event(tag), headers=bearer(tokens["service"]))
    assert again.status_code == 200
    assert again.json() == {**first.json(), "stored": "duplicate"}
    assert chained(business_db, tag) == 1


def test_concurrent_deliveries_of_one_event_chain_it_once(
    services_client: TestClient, tokens: dict[str, str], business_db: Any, tag: str
) -> None:
    def send(_: int) -> Any:
        return services_client.post(ROUTE, json=event(tag), headers=bearer(tokens["service"]))

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["hash"] for a in answers}) == 1
    assert chained(business_db, tag) == 1


def test_a_reused_event_id_with_other_content_is_a_409_and_writes_nothing(
    services_client: TestClient, tokens: dict[str, str], business_db: Any, tag: str
) -> None:
    services_client.post(ROUTE, json=event(tag), headers=bearer(tokens["service"]))
    before = count(business_db, "SELECT count(*) FROM audit_log")
    other = services_client.post(
        ROUTE, json=event(tag, action="terms.signed"), headers=bearer(tokens["service"])
    )
    assert other.status_code == 409
    assert other.json() == {
        "error": "event_id_reused",
        "message": f"event ev-{tag} was already recorded with different content",
        "field": "event_id",
    }
    assert count(business_db, "SELECT count(*) FROM audit_log") == before


def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    services_client: TestClient, tokens: dict[str, str], business_db: Any, tag: str
) -> None:
    before = (
        count(business_db, "SELECT count(*) FROM audit_log"),
        count(business_db, "SELECT count(*) FROM audit_events"),
    )
    for overrides, field in (
        ({"details": {"note": "nul\u0000"}}, "details"),
        ({"action": "Not Valid"}, "action"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"event_id": ""}, "event_id"),
        ({"details": [1, 2]}, "details"),
    ):
        response = services_client.post(
            ROUTE, json=event(tag, **overrides), headers=bearer(tokens["service"])
        )
        assert (response.status_code, response.json()["field"]) == (422, field), response.text
    after = (
        count(business_db, "SELECT count(*) FROM audit_log"),
        count(business_db, "SELECT count(*) FROM audit_events"),
    )
    assert after == before


def test_the_task_function_is_the_same_write(business_db: Any, tag: str) -> None:
    from execution_plane.services.audit import write_audit_event_task

    first = write_audit_event_task(event(tag))
    assert first["stored"] == "created"
    assert write_audit_event_task(event(tag)) == {**first, "stored": "duplicate"}
    assert chained(business_db, tag) == 1
