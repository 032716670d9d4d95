"""``POST /esign`` and ``POST /events/{source}``: events land once in ``external_events`` and NOTIFY."""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pytest

from execution_plane.webhooks.app import OUTSIDE_SOURCES
from tests.plugins.webhooks.webhook_support import Post, esign_body, outside_body

NOTIFY_CHANNEL = "ep_external_events"


@pytest.fixture
def listener(business_db_url: str) -> Iterator[Any]:
    conn = psycopg2.connect(business_db_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"LISTEN {NOTIFY_CHANNEL}")
    try:
        yield conn
    finally:
        conn.close()


def notifications_for(conn: Any, key: str, *, wait_s: float) -> list[str]:
    """NOTIFY payloads equal to ``key`` received within ``wait_s`` (others' notifications are ignored)."""
    found: list[str] = []
    deadline = time.monotonic() + wait_s
    while (remaining := deadline - time.monotonic()) > 0:
        if select.select([conn], [], [], remaining)[0]:
            conn.poll()
            found.extend(n.payload for n in conn.notifies if n.channel == NOTIFY_CHANNEL and n.payload == key)
            conn.notifies.clear()
            if found:
                return found
    return found


def test_esign_event_is_stored_and_accepted(post: Post, tag: str, inbox_rows: Callable[..., Any]) -> None:
    response = post("/esign", esign_body(tag))

    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "event_id": f"esign:evt_{tag}", "ended_waits": 0}
    [row] = inbox_rows(tag)
    assert row["event_id"] == f"esign:evt_{tag}"
    assert row["source"] == "esign"
    assert row["event_type"] == "envelope.signed"
    assert row["correlation_key"] == f"sig:{tag}"
    assert row["payload"]["envelope_id"] == "env_0001"
    assert row["payload"]["event_id"] == f"evt_{tag}"


def test_duplicate_esign_event_keeps_one_row(post: Post, tag: str, inbox_rows: Callable[..., Any]) -> None:
    first = post("/esign", esign_body(tag))
    again = post("/esign", esign_body(tag))

    assert (first.status_code, first.json()["status"]) == (202, "accepted")
    assert (again.status_code, again.json()["status"]) == (202, "duplicate")
    assert len(inbox_rows(tag)) == 1


def test_stored_event_notifies_its_correlation_key(post: Post, tag: str, listener: Any) -> None:
    response = post("/esign", esign_body(tag))

    assert response.status_code == 202
    assert notifications_for(listener, f"sig:{tag}", wait_s=5) == [f"sig:{tag}"]


def test_duplicate_event_notifies_nobody(post: Post, tag: str, listener: Any) -> None:
    assert post("/esign", esign_body(tag)).json()["status"] == "accepted"
    assert notifications_for(listener, f"sig:{tag}", wait_s=5)

    assert post("/esign", esign_body(tag)).json()["status"] == "duplicate"
    assert notifications_for(listener, f"sig:{tag}", wait_s=0.5) == []


@pytest.mark.parametrize(
    "event_type", ["envelope.sent", "envelope.declined", "envelope.expired", "envelope.voided"]
)
def test_every_envelope_status_is_accepted(
    post: Post, tag: str, inbox_rows: Callable[..., Any], event_type: str
) -> None:
    response = post("/esign", esign_body(tag, type=event_type))

    assert response.status_code == 202
    assert inbox_rows(tag)[0]["event_type"] == event_type


@pytest.mark.parametrize("source", sorted(OUTSIDE_SOURCES))
def test_outside_event_is_stored_under_its_source(
    post: Post, tag: str, inbox_rows: Callable[..., Any], listener: Any, source: str
) -> None:
    response = post(f"/events/{source}", outside_body(tag))

    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "event_id": f"{source}:evt_{tag}", "ended_waits": 0}
    [row] = inbox_rows(tag)
    assert (row["source"], row["event_type"], row["correlation_key"]) == (
        source,
        "partner.response",
        f"partner:{tag}",
    )
    assert row["payload"]["payload"] == {"kind": "accept", "note": "looks good"}
    assert notifications_for(listener, f"partner:{tag}", wait_s=5) == [f"partner:{tag}"]


def test_same_event_id_from_two_sources_is_two_events(
    post: Post, tag: str, inbox_rows: Callable[..., Any]
) -> None:
    assert post("/events/partner", outside_body(tag)).json()["status"] == "accepted"
    assert post("/events/regulator", outside_body(tag)).json()["status"] == "accepted"
    assert post("/events/partner", outside_body(tag)).json()["status"] == "duplicate"

    assert [row["event_id"] for row in inbox_rows(tag)] == [f"partner:evt_{tag}", f"regulator:evt_{tag}"]


@pytest.mark.parametrize("source", ["crm", "esign", "Partner", "p", "partner-x", "a" * 40])
def test_unknown_source_is_404_and_stores_nothing(
    post: Post, tag: str, inbox_rows: Callable[..., Any], source: str
) -> None:
    response = post(f"/events/{source}", outside_body(tag))

    assert response.status_code == 404
    assert response.json() == {
        "error": "unknown_source",
        "message": "unknown event source",
        "field": "source",
    }
    assert inbox_rows(tag) == []


def test_unknown_source_without_signature_is_401(post: Post, tag: str) -> None:
    response = post("/events/nosuch", outside_body(tag), drop=("X-EP-Signature",))

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("/esign", lambda t: esign_body(t, type="envelope.opened"), "type"),
        ("/esign", lambda t: esign_body(t, envelope_id=""), "envelope_id"),
        ("/esign", lambda t: esign_body(t, correlation_key="has space"), "correlation_key"),
        ("/esign", lambda t: esign_body(t, occurred_at="2026-11-25T10:00:00"), "occurred_at"),
        ("/esign", lambda t: esign_body(t, event_id=f"a..{t}"), "event_id"),
        ("/esign", lambda t: esign_body(t, event_id=f"bad id {t}"), "event_id"),
        ("/esign", lambda t: {**esign_body(t), "extra": 1}, "extra"),
        ("/events/partner", lambda t: {k: v for k, v in outside_body(t).items() if k != "type"}, "type"),
        ("/events/partner", lambda t: outside_body(t, payload=[1, 2]), "payload"),
        ("/events/partner", lambda t: outside_body(t, correlation_key="x" * 257), "correlation_key"),
    ],
)
def test_invalid_field_is_422_naming_it_and_stores_nothing(
    post: Post,
    tag: str,
    inbox_rows: Callable[..., Any],
    route: str,
    body: Callable[[str], dict[str, Any]],
    field: str,
) -> None:
    response = post(route, body(tag))

    assert response.status_code == 422
    answer = response.json()
    assert answer["error"] == "invalid_body"
    assert answer["field"] == field
    assert field in [item["field"] for item in answer["fields"]]
    assert inbox_rows(tag) == []
