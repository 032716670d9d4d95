"""When a person may be written to: inside a daily send window of their local time, never on their country's
weekend. Shared by every workflow that messages people outside the company (and by whatever audits that no
message went out inside quiet hours), so the rule is written once.

- ``SendWindow(start, end)``: local wall-clock times, ``end`` exclusive; ``"24:00"`` is the end of the day.
- ``weekend(country) -> frozenset[int]``: the weekend days (Monday 0 ... Sunday 6) of an ISO 3166 country.
- ``next_allowed(moment, time_zone, country, window) -> datetime``: the first allowed instant at or after
  ``moment`` (aware UTC); ``is_allowed(...)`` whether ``moment`` itself is allowed.

Weekends, as the countries set them (checked 2026-12): Friday-Saturday in Saudi Arabia, Kuwait, Qatar,
Bahrain, Oman, Egypt, Jordan, Iraq, Syria, Yemen, Libya, Sudan, Algeria and Israel; Saturday-Sunday in the
United Arab Emirates since 2022 (it was Friday-Saturday before), Morocco, Tunisia, Lebanon and everywhere not
listed; Friday and Sunday in Brunei. Public holidays are not known here (no calendar of them is kept): a
message on a holiday weekday is allowed.

Local times are computed with the IANA time zone database (``zoneinfo``), so daylight saving time moves the
window with the clocks. A window start that does not exist on a spring-forward day (02:30 when clocks jump
from 02:00 to 03:00) is read with the offset before the jump, as ``zoneinfo`` reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FRI_SAT = frozenset({4, 5})
SAT_SUN = frozenset({5, 6})
WEEKENDS: dict[str, frozenset[int]] = {
    **dict.fromkeys(
        ("SA", "KW", "QA", "BH", "OM", "EG", "JO", "IQ", "SY", "YE", "LY", "SD", "DZ", "IL"), FRI_SAT
    ),
    "BN": frozenset({4, 6}),
}
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")
# The window is looked for this many days ahead: a country has at most three weekend days in a row.
_SEARCH_DAYS = 10


def weekend(country: str) -> frozenset[int]:
    """The weekend days of ``country`` (ISO 3166-1 alpha-2), Saturday-Sunday where not listed."""
    return WEEKENDS.get(country.upper(), SAT_SUN)


def zone(time_zone: str) -> ZoneInfo:
    """The IANA time zone, or ValueError naming it."""
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {time_zone!r}") from exc


@dataclass(frozen=True)
class SendWindow:
    """The daily local times messages may go out: from ``start`` (inclusive) to ``end`` (exclusive)."""

    start: str = "09:00"
    end: str = "18:00"

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not _HHMM.match(value):
                raise ValueError(f"send window {name} must be HH:MM (00:00-24:00), not {value!r}")
        if self.start == "24:00":
            raise ValueError("send window start must be before 24:00")
        if self._minutes(self.end) <= self._minutes(self.start):
            raise ValueError(f"send window end ({self.end}) must be after its start ({self.start})")

    @staticmethod
    def _minutes(value: str) -> int:
        hours, minutes = value.split(":")
        return int(hours) * 60 + int(minutes)

    def bounds(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The window of local ``day`` as aware UTC instants."""
        start = datetime.combine(day, time.fromisoformat(self.start), tzinfo=tz)
        if self.end == "24:00":
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        else:
            end = datetime.combine(day, time.fromisoformat(self.end), tzinfo=tz)
        return start.astimezone(UTC), end.astimezone(UTC)


def next_allowed(moment: datetime, time_zone: str, country: str, window: SendWindow) -> datetime:
    """The first instant at or after ``moment`` inside ``window`` on a working day of ``country``, in
    ``time_zone`` (aware UTC). ``moment`` must be aware."""
    if moment.tzinfo is None:
        raise ValueError("moment must carry a time zone")
    tz = zone(time_zone)
    moment = moment.astimezone(UTC)
    days_off = weekend(country)
    local_day = moment.astimezone(tz).date()
    for offset in range(_SEARCH_DAYS):
        day = local_day + timedelta(days=offset)
        if day.weekday() in days_off:
            continue
        start, end = window.bounds(day, tz)
        if moment < end:
            return max(moment, start)
    raise ValueError(f"no working day within {_SEARCH_DAYS} days for {country}")  # unreachable: <= 3 days off


def is_allowed(moment: datetime, time_zone: str, country: str, window: SendWindow) -> bool:
    return next_allowed(moment, time_zone, country, window) == moment.astimezone(UTC)


def local_label(moment: datetime, time_zone: str) -> str:
    """``moment`` as the person reads it: ``Tuesday 2026-01-06 09:00 (Asia/Riyadh)``."""
    local = moment.astimezone(zone(time_zone))
    return f"{DAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M} ({time_zone})"
