"""Cal.com: an organizer's free slots, bookings made once, read back, and cancelled.

An organizer is a Cal.com ``username``; their availability is their calendar's free slots (busy times and
earlier bookings taken away). A booking carries the caller's ``Idempotency-Key`` (the same key replays the
first booking) and is refused with 409 ``slot_taken`` when someone else took the slot meanwhile
(``SlotTaken``); cancelling a booking cancelled before is success.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from execution_plane.hooks.http import ProviderError, ProviderHook


class SlotTaken(Exception):
    """The slot is no longer free at the organizer's calendar."""


class CalcomHook(ProviderHook):
    system = "calcom"
    default_conn_name = "calcom_default"
    hook_name = "Cal.com"

    def free_slots(self, username: str, start: date, days: int) -> list[datetime]:
        """The organizer's free slot starts in [start, start + days), oldest first (aware UTC)."""
        body = self.json(
            "GET", "/slots", params={"start": start.isoformat(), "days": days, "username": username}
        )
        return sorted(datetime.fromisoformat(slot["start"].replace("Z", "+00:00")) for slot in body["slots"])

    def create_booking(
        self,
        *,
        username: str,
        slot_start: datetime,
        attendee_email: str,
        attendee_name: str,
        attendee_time_zone: str,
        title: str,
        idempotency_key: str,
    ) -> dict[str, Any]:
        """Book once (``booking_id``, ``slot_start``, ``slot_end``); ``SlotTaken`` when the slot went."""
        resp = self.request(
            "POST",
            "/bookings",
            json={
                "slot_start": slot_start.isoformat(),
                "attendee_email": attendee_email,
                "attendee_name": attendee_name,
                "attendee_time_zone": attendee_time_zone,
                "title": title,
                "username": username,
            },
            idempotency_key=idempotency_key,
            accept=(409,),
        )
        body: dict[str, Any] = resp.json()
        if resp.status_code == 409:
            if body.get("error") == "slot_taken":
                raise SlotTaken(body.get("message", "slot taken"))
            raise ProviderError(self.system, 409, resp.text, retryable="Retry-After" in resp.headers)
        return body

    def get_booking(self, booking_id: str) -> dict[str, Any]:
        return self.json("GET", f"/bookings/{booking_id}")

    def cancel_booking(self, booking_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Cancel the booking (the slot is free again); one cancelled before counts as done."""
        return self.undo(
            f"/bookings/{booking_id}/cancel",
            reason=reason,
            idempotency_key=idempotency_key,
            done=("already_cancelled",),
        )
