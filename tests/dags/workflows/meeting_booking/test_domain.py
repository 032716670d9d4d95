"""meeting_booking's business rules without Airflow: which slots to propose, what an answer means (English and
Arabic), the negotiation's next step, the messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from workflows.meeting_booking.domain import (
    Reading,
    choose_options,
    negotiate,
    proposal,
    read_answer,
    when,
)

# Monday 2026-01-05, 08:00 UTC (11:00 in Riyadh).
NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
RIYADH = "Asia/Riyadh"


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


# The organizer's free slots over Monday-Wednesday (UTC).
FREE = [utc(d, h) for d in (5, 6, 7) for h in (9, 10, 13, 16)]
OPTIONS = [utc(6, 9), utc(7, 10), utc(7, 13)]


def test_options_spread_over_days_after_the_notice() -> None:
    chosen = choose_options(FREE, now=NOW, earliest_notice=timedelta(hours=12), count=3, time_zone=RIYADH)
    # Monday's slots are all within 12 hours: Tuesday and Wednesday first, then more of them.
    assert chosen == [utc(6, 9), utc(6, 10), utc(7, 9)]
    assert choose_options(FREE, now=NOW, earliest_notice=timedelta(0), count=3, time_zone=RIYADH) == [
        utc(5, 9),
        utc(6, 9),
        utc(7, 9),
    ]


def test_civil_hours_for_the_attendee_come_first() -> None:
    # 16:00 UTC is 01:00 in Tokyo, 09:00 is 18:00: only the 09:00 slots are civil there.
    chosen = choose_options(FREE, now=NOW, earliest_notice=timedelta(0), count=2, time_zone="Asia/Tokyo")
    assert all(slot.hour == 9 for slot in chosen)


def test_slots_proposed_before_are_not_proposed_again_and_a_counter_pulls_them_near() -> None:
    first = choose_options(FREE, now=NOW, earliest_notice=timedelta(0), count=3, time_zone=RIYADH)
    second = choose_options(
        FREE, now=NOW, earliest_notice=timedelta(0), count=3, time_zone=RIYADH, exclude=first
    )
    assert not set(first) & set(second)
    near = choose_options(
        FREE, now=NOW, earliest_notice=timedelta(0), count=2, time_zone=RIYADH, near=utc(7, 14)
    )
    # Nearest first among civil hours in Riyadh (16:00 UTC is 19:00 there: after hours).
    assert near == [utc(7, 10), utc(7, 13)]
    assert choose_options([], now=NOW, earliest_notice=timedelta(0), count=3, time_zone=RIYADH) == []
    with pytest.raises(ValueError, match="count"):
        choose_options(FREE, now=NOW, earliest_notice=timedelta(0), count=0, time_zone=RIYADH)


@pytest.mark.parametrize(
    ("text", "option"),
    [
        ("2", 2),
        ("Option 2 works for me", 2),
        ("#3 please", 3),
        ("the first one", 1),
        ("٢", 2),
        ("الخيار ٣ مناسب", 3),
        ("الموعد الثاني", 2),
        ("Wednesday 13:00 is good", 3),  # exactly an option (13:00 UTC... in UTC below)
    ],
)
def test_picks(text: str, option: int) -> None:
    reading = read_answer(text, OPTIONS, time_zone="UTC", now=NOW)
    assert (reading.kind, reading.option, reading.slot) == ("pick", option, OPTIONS[option - 1])


@pytest.mark.parametrize(
    ("text", "slot", "day_only"),
    [
        ("Thursday at 3pm would be better", datetime(2026, 1, 8, 12, 0, tzinfo=UTC), False),  # 15:00 Riyadh
        ("tomorrow 10:30?", datetime(2026, 1, 6, 7, 30, tzinfo=UTC), False),
        ("2026-01-09 14:00", datetime(2026, 1, 9, 11, 0, tzinfo=UTC), False),
        ("الخميس الساعة 3 مساءً", datetime(2026, 1, 8, 12, 0, tzinfo=UTC), False),
        ("Thursday at 3:15pm works better", datetime(2026, 1, 8, 12, 15, tzinfo=UTC), False),
        ("الخميس الساعة 3:15 مساءً", datetime(2026, 1, 8, 12, 15, tzinfo=UTC), False),
        ("بكرة الساعة \u0661\u0660", datetime(2026, 1, 6, 7, 0, tzinfo=UTC), False),  # Arabic-Indic 10
        ("Thursday works better", datetime(2026, 1, 8, 9, 0, tzinfo=UTC), True),  # noon Riyadh
        ("Monday at 9am", datetime(2026, 1, 12, 6, 0, tzinfo=UTC), False),  # today's 9:00 passed: next week
    ],
)
def test_counters_in_the_attendee_time_zone(text: str, slot: datetime, day_only: bool) -> None:
    reading = read_answer(text, OPTIONS, time_zone=RIYADH, now=NOW)
    assert (reading.kind, reading.slot, reading.day_only) == ("counter", slot, day_only)


@pytest.mark.parametrize(
    "text", ["Not interested, thanks", "please cancel", "غير مهتم", "لا شكرا", "No thank you"]
)
def test_declines(text: str) -> None:
    assert read_answer(text, OPTIONS, time_zone=RIYADH, now=NOW).kind == "decline"


@pytest.mark.parametrize("text", ["What is it about?", "1 or 3, both fine", "7", "hmm"])
def test_unclear_answers(text: str) -> None:
    assert read_answer(text, OPTIONS, time_zone=RIYADH, now=NOW) == Reading("unclear")


def test_the_negotiation_steps() -> None:
    pick = Reading("pick", option=1, slot=OPTIONS[0])
    counter = Reading("counter", slot=utc(8, 12))
    day = Reading("counter", slot=utc(8, 9), day_only=True)
    assert negotiate(pick, counter_free=False, round_no=1, max_rounds=3).outcome == "agreed"
    assert negotiate(counter, counter_free=True, round_no=3, max_rounds=3).slot == utc(8, 12)
    unavailable = negotiate(counter, counter_free=False, round_no=1, max_rounds=3)
    assert (unavailable.outcome, unavailable.next, unavailable.near) == (
        "counter_unavailable",
        "next_round",
        utc(8, 12),
    )
    assert negotiate(day, counter_free=True, round_no=1, max_rounds=3).outcome == "counter_unavailable"
    assert negotiate(Reading("unclear"), counter_free=False, round_no=2, max_rounds=3).next == "next_round"
    assert (
        negotiate(Reading("unclear"), counter_free=False, round_no=3, max_rounds=3).outcome == "no_agreement"
    )
    assert negotiate(Reading("decline"), counter_free=False, round_no=1, max_rounds=3).next == "ended"


def test_proposals_read_in_the_attendee_language_and_time_zone() -> None:
    english = proposal(
        OPTIONS,
        language="en",
        attendee_name="Ana",
        organizer_name="Layla",
        title="Intro",
        time_zone=RIYADH,
        why="first",
    )
    assert "1) Tuesday 6 January, 12:00\n2) Wednesday 7 January, 13:00\n3) Wednesday 7 January, 16:00" in (
        english.body
    )
    assert "(Times in Asia/Riyadh.)" in english.body
    arabic = proposal(
        OPTIONS,
        language="ar",
        attendee_name="ليلى",
        organizer_name="Layla",
        title="Intro",
        time_zone=RIYADH,
        why="counter_unavailable",
    )
    assert "1) الثلاثاء 6 يناير، 12:00" in arabic.body and "غير متاح" in arabic.body
    assert when(utc(6, 9), "UTC", "en") == "Tuesday 6 January, 09:00"
