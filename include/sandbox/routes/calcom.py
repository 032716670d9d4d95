"""Cal.com: a deterministic weekday calendar (30-minute slots, some busy) that our bookings fill up.

Each organizer (a Cal.com ``username``) has a calendar of their own: the same slot times, another fixed
fifth of them busy, and only their own bookings taken away. Without ``username`` the one shared calendar of
earlier callers answers, as before."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field

from include.sandbox import derive
from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.state import new_id, utc_now_iso

router = provider_router("calcom", "/calcom/v1")


class BookingIn(BaseModel):
    slot_start: datetime
    attendee_email: str = Field(min_length=3)
    title: str = Field(min_length=1)
    username: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    """The organizer whose calendar the booking goes into (none: the shared calendar)."""
    attendee_name: str | None = Field(default=None, min_length=1, max_length=200)
    attendee_time_zone: str | None = Field(default=None, min_length=1, max_length=64)


class CancelIn(BaseModel):
    reason: str | None = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _booked(resources: dict[str, dict[str, Any]], username: str | None = None) -> set[str]:
    return {
        booking["slot_start"]
        for booking in resources["bookings"].values()
        if booking["status"] == "accepted" and booking.get("username") == username
    }


def _busy(slot: datetime, username: str | None) -> bool:
    """Taken by someone outside our system: about one slot in five, per organizer."""
    if username is None:
        return derive.slot_is_busy(slot)
    return int(derive.hex_digest("calendar-busy", username, slot.isoformat())[:8], 16) % 5 == 0


def _booking(resources: dict[str, dict[str, Any]], booking_id: str) -> dict[str, Any]:
    booking = resources["bookings"].get(booking_id)
    if booking is None:
        raise ProviderError(
            404, "booking_not_found", f"booking {booking_id} not found", booking_id=booking_id
        )
    return booking


@router.get("/slots")
def list_slots(
    start: date,
    call: CallDep,
    days: Annotated[int, Query(ge=1, le=31)] = 7,
    username: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")] = None,
) -> dict[str, Any]:
    with call.state.view() as resources:
        booked = _booked(resources, username)
    candidates = (
        derive.candidate_slots(start, days)
        if username is None
        else [
            slot
            for offset in range(days)
            for slot in _day_slots(start + timedelta(days=offset))
            if not _busy(slot, username)
        ]
    )
    slots = [
        {"start": _iso(slot), "end": _iso(slot + derive.SLOT_LENGTH)}
        for slot in candidates
        if _iso(slot) not in booked
    ]
    return {"slots": slots}


def _day_slots(day: date) -> list[datetime]:
    if day.weekday() >= 5:
        return []
    return [datetime.combine(day, slot_time, tzinfo=UTC) for slot_time in derive.SLOT_TIMES]


@router.post("/bookings", status_code=201)
def create_booking(body: BookingIn, call: CallDep) -> dict[str, Any]:
    if body.slot_start.tzinfo is None:
        raise ProviderError(422, "invalid_slot", "slot_start must carry a timezone (use Z for UTC)")
    slot_start = _iso(body.slot_start)
    if not derive.is_slot(body.slot_start.astimezone(UTC)):
        raise ProviderError(
            422, "invalid_slot", f"{slot_start} is not a bookable slot", slot_start=slot_start
        )
    with call.state.transaction() as resources:
        taken = _booked(resources, body.username)
        if _busy(body.slot_start.astimezone(UTC), body.username) or slot_start in taken:
            raise ProviderError(
                409, "slot_taken", f"{slot_start} is no longer available", slot_start=slot_start
            )
        booking: dict[str, Any] = {
            "booking_id": new_id("bkg"),
            "status": "accepted",
            "slot_start": slot_start,
            "slot_end": _iso(body.slot_start + derive.SLOT_LENGTH),
            "attendee_email": body.attendee_email,
            "title": body.title,
            "username": body.username,
            "attendee_name": body.attendee_name,
            "attendee_time_zone": body.attendee_time_zone,
            "created_at": utc_now_iso(),
            "cancelled_at": None,
            "cancel_reason": None,
        }
        resources["bookings"][booking["booking_id"]] = booking
        call.record(booking["booking_id"], body.model_dump(mode="json", exclude_none=True))
        return dict(booking)


@router.get("/bookings/{booking_id}")
def get_booking(booking_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_booking(resources, booking_id))


@router.post("/bookings/{booking_id}/cancel")
def cancel_booking(booking_id: str, call: CallDep, body: CancelIn | None = None) -> dict[str, Any]:
    with call.state.transaction() as resources:
        booking = _booking(resources, booking_id)
        if booking["status"] == "cancelled":
            raise ProviderError(
                409, "already_cancelled", "booking is already cancelled", booking_id=booking_id
            )
        reason = body.reason if body is not None else None
        booking.update(status="cancelled", cancelled_at=utc_now_iso(), cancel_reason=reason)
        call.record(booking_id, {"reason": reason})
        return dict(booking)
