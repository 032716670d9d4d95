from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi.testclient import TestClient

Count = Callable[[str, str], int]

MONDAY = "2026-03-02"


def _slots(client: TestClient, start: str = MONDAY, days: int = 7) -> list[dict[str, str]]:
    response = client.get("/calcom/v1/slots", params={"start": start, "days": days})
    assert response.status_code == 200, response.text
    slots: list[dict[str, str]] = response.json()["slots"]
    return slots


def _book(client: TestClient, slot_start: str) -> dict[str, object]:
    response = client.post(
        "/calcom/v1/bookings",
        json={"slot_start": slot_start, "attendee_email": "ceo@partner.example", "title": "Kick-off"},
    )
    body: dict[str, object] = {"status_code": response.status_code, **response.json()}
    return body


def test_slots_are_deterministic_weekday_half_hours(client: TestClient) -> None:
    slots = _slots(client)
    assert slots == _slots(client)
    assert slots
    for slot in slots:
        start = datetime.fromisoformat(slot["start"])
        end = datetime.fromisoformat(slot["end"])
        assert start.weekday() < 5
        assert (end - start).total_seconds() == 1800
        assert 9 <= start.hour <= 16
    # Some slots are busy with meetings outside our system, like a real calendar.
    assert len(slots) < 5 * 7


def test_days_is_bounded(client: TestClient) -> None:
    assert client.get("/calcom/v1/slots", params={"start": MONDAY, "days": 0}).status_code == 422
    assert client.get("/calcom/v1/slots", params={"start": MONDAY, "days": 32}).status_code == 422
    assert client.get("/calcom/v1/slots", params={"start": "not-a-date"}).status_code == 422


def test_booking_takes_the_slot_out_of_the_free_list(client: TestClient, effect_count: Count) -> None:
    slot = _slots(client)[0]
    booking = _book(client, slot["start"])

    assert booking["status_code"] == 201
    assert booking["status"] == "accepted"
    assert booking["slot_start"] == slot["start"]
    assert booking["slot_end"] == slot["end"]
    assert slot not in _slots(client)
    assert client.get(f"/calcom/v1/bookings/{booking['booking_id']}").json()["status"] == "accepted"
    assert effect_count("calcom", "create_booking") == 1


def test_a_taken_slot_is_409(client: TestClient, effect_count: Count) -> None:
    slot = _slots(client)[0]["start"]
    _book(client, slot)
    again = _book(client, slot)
    assert again["status_code"] == 409
    assert again["error"] == "slot_taken"
    assert effect_count("calcom", "create_booking") == 1


def test_an_equivalent_timezone_offset_is_the_same_slot(client: TestClient) -> None:
    slot = _slots(client)[0]["start"]
    _book(client, slot)
    assert _book(client, slot.replace("Z", "+00:00"))["status_code"] == 409


def test_a_busy_slot_is_409(client: TestClient) -> None:
    free = {slot["start"] for slot in _slots(client, days=1)}
    all_hours = [f"{MONDAY}T{hour:02d}:00:00Z" for hour in (9, 10, 11, 13, 14, 15, 16)]
    busy = [start for start in all_hours if start not in free]
    assert busy, "the fixed calendar has at least one busy slot on this Monday"
    assert _book(client, busy[0])["status_code"] == 409


def test_times_that_are_not_slots_are_422(client: TestClient) -> None:
    assert _book(client, f"{MONDAY}T12:00:00Z")["error"] == "invalid_slot"
    assert _book(client, f"{MONDAY}T09:15:00Z")["status_code"] == 422
    assert _book(client, "2026-03-07T09:00:00Z")["status_code"] == 422  # a Saturday
    assert _book(client, f"{MONDAY}T09:00:00")["status_code"] == 422  # no timezone


def test_cancel_frees_the_slot_and_cannot_happen_twice(client: TestClient, effect_count: Count) -> None:
    slot = _slots(client)[0]
    booking_id = _book(client, slot["start"])["booking_id"]

    cancelled = client.post(f"/calcom/v1/bookings/{booking_id}/cancel", json={"reason": "partner rejected"})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "partner rejected"
    assert slot in _slots(client)

    again = client.post(f"/calcom/v1/bookings/{booking_id}/cancel")
    assert again.status_code == 409
    assert again.json()["error"] == "already_cancelled"
    assert effect_count("calcom", "cancel_booking") == 1


def test_unknown_booking_is_404(client: TestClient) -> None:
    assert client.get("/calcom/v1/bookings/bkg_nope").status_code == 404
    assert client.post("/calcom/v1/bookings/bkg_nope/cancel").status_code == 404
