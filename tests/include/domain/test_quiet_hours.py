"""When a person may be written to: the send window in their local time, their country's weekend, DST."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from include.domain.quiet_hours import SendWindow, is_allowed, local_label, next_allowed, weekend

WINDOW = SendWindow("09:00", "18:00")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_weekends_by_country() -> None:
    assert weekend("SA") == weekend("EG") == weekend("jo") == frozenset({4, 5})  # Friday-Saturday
    assert weekend("AE") == frozenset({5, 6})  # Saturday-Sunday since 2022
    assert weekend("MA") == weekend("GB") == weekend("US") == frozenset({5, 6})
    assert weekend("BN") == frozenset({4, 6})


def test_inside_the_window_on_a_working_day_is_now() -> None:
    # Sunday 2026-01-04 10:00 in Riyadh (UTC+3) is a working day there.
    moment = utc(2026, 1, 4, 7, 0)
    assert next_allowed(moment, "Asia/Riyadh", "SA", WINDOW) == moment
    assert is_allowed(moment, "Asia/Riyadh", "SA", WINDOW)


def test_before_the_window_waits_for_its_start() -> None:
    # 05:30 in Riyadh on Monday -> 09:00 Riyadh = 06:00 UTC.
    assert next_allowed(utc(2026, 1, 5, 2, 30), "Asia/Riyadh", "SA", WINDOW) == utc(2026, 1, 5, 6, 0)


def test_after_the_window_waits_for_the_next_working_morning() -> None:
    # Wednesday 19:00 in London -> Thursday 09:00.
    assert next_allowed(utc(2026, 1, 7, 19, 0), "Europe/London", "GB", WINDOW) == utc(2026, 1, 8, 9, 0)
    # The end is exclusive: 18:00 sharp is already quiet.
    assert not is_allowed(utc(2026, 1, 7, 18, 0), "Europe/London", "GB", WINDOW)


def test_the_weekend_differs_by_country() -> None:
    # Thursday 2026-01-08 20:00 in Riyadh: Friday and Saturday off -> Sunday 09:00.
    assert next_allowed(utc(2026, 1, 8, 17, 0), "Asia/Riyadh", "SA", WINDOW) == utc(2026, 1, 11, 6, 0)
    # The same instant in Dubai (Saturday-Sunday weekend): Friday 09:00 Dubai (UTC+4).
    assert next_allowed(utc(2026, 1, 8, 17, 0), "Asia/Dubai", "AE", WINDOW) == utc(2026, 1, 9, 5, 0)
    # Saturday in New York waits for Monday.
    assert next_allowed(utc(2026, 1, 10, 15, 0), "America/New_York", "US", WINDOW) == utc(2026, 1, 12, 14, 0)
    # Saturday is a working day in Brunei (Friday and Sunday off).
    assert is_allowed(utc(2026, 1, 10, 2, 0), "Asia/Brunei", "BN", WINDOW)


def test_the_local_day_decides_not_the_utc_day() -> None:
    # Friday 23:30 UTC is already Saturday 08:30 in Tokyo... and 09:00 Saturday is weekend in JP: Monday.
    assert next_allowed(utc(2026, 1, 9, 23, 30), "Asia/Tokyo", "JP", WINDOW) == utc(2026, 1, 12, 0, 0)


def test_daylight_saving_moves_the_window_with_the_clocks() -> None:
    # New York: 09:00 is 14:00 UTC in winter, 13:00 UTC after the March change (2026-03-08).
    assert next_allowed(utc(2026, 3, 6, 4, 0), "America/New_York", "US", WINDOW) == utc(2026, 3, 6, 14, 0)
    assert next_allowed(utc(2026, 3, 9, 4, 0), "America/New_York", "US", WINDOW) == utc(2026, 3, 9, 13, 0)


def test_a_whole_day_window_leaves_only_the_weekend() -> None:
    always = SendWindow("00:00", "24:00")
    assert is_allowed(utc(2026, 1, 7, 23, 59), "UTC", "GB", always)
    assert next_allowed(utc(2026, 1, 10, 12, 0), "UTC", "GB", always) == utc(2026, 1, 12, 0, 0)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("9:00", "18:00", "start must be HH:MM"),
        ("09:00", "25:00", "end must be HH:MM"),
        ("18:00", "09:00", r"end \(09:00\) must be after its start"),
        ("24:00", "24:00", "start must be before 24:00"),
    ],
)
def test_bad_windows_are_refused(start: str, end: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SendWindow(start, end)


def test_bad_time_zones_and_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        next_allowed(utc(2026, 1, 5, 9), "Mars/Olympus", "GB", WINDOW)
    with pytest.raises(ValueError, match="must carry a time zone"):
        next_allowed(datetime(2026, 1, 5, 9), "UTC", "GB", WINDOW)


def test_local_label_reads_as_the_person_reads_it() -> None:
    assert local_label(utc(2026, 1, 5, 6, 0), "Asia/Riyadh") == "Monday 2026-01-05 09:00 (Asia/Riyadh)"
