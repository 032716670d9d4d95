"""Which of the organizer's free slots to propose: not too soon, at civil hours for the attendee, spread over
several days, or, after a counter-proposal the calendar cannot take, the ones nearest to it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta

from include.domain.quiet_hours import zone

#: Local hours an attendee is offered meetings in (a slot outside them is proposed only when nothing else is).
CIVIL_START = time(8)
CIVIL_END = time(19)


def is_civil(slot: datetime, time_zone: str) -> bool:
    local = slot.astimezone(zone(time_zone)).time()
    return CIVIL_START <= local < CIVIL_END


def choose_options(
    free: Iterable[datetime],
    *,
    now: datetime,
    earliest_notice: timedelta,
    count: int,
    time_zone: str,
    exclude: Iterable[datetime] = (),
    near: datetime | None = None,
) -> list[datetime]:
    """Up to ``count`` slots from ``free``, in time order: none before ``now + earliest_notice`` nor in
    ``exclude``; civil hours for the attendee first. Without ``near``: the earliest slot of each day, earliest
    days first, then more of those days. With ``near``: the slots closest to it."""
    if count < 1:
        raise ValueError("count must be at least 1")
    excluded = {slot.timestamp() for slot in exclude}
    candidates = sorted(
        slot for slot in free if slot >= now + earliest_notice and slot.timestamp() not in excluded
    )
    civil = [slot for slot in candidates if is_civil(slot, time_zone)]
    pool = civil + [slot for slot in candidates if slot not in civil]
    if near is not None:
        return sorted(
            sorted(pool, key=lambda slot: (not is_civil(slot, time_zone), abs(slot - near)))[:count]
        )
    tz = zone(time_zone)
    chosen: list[datetime] = []
    days: set[object] = set()
    for slot in pool:
        day = slot.astimezone(tz).date()
        if day not in days:
            days.add(day)
            chosen.append(slot)
        if len(chosen) == count:
            return sorted(chosen)
    for slot in pool:
        if slot not in chosen:
            chosen.append(slot)
        if len(chosen) == count:
            break
    return sorted(chosen)
