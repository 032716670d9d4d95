"""Reading the attendee's answer to proposed times (English or Arabic), and what it means for the
negotiation.

An answer is one of:

- a **pick**: the number of an option ("2", "option 2", "#2", "الخيار ٢"), or its ordinal ("the second",
  "الثاني"), or a time that is exactly one of the options;
- a **counter**: another time ("Thursday at 3pm", "tomorrow 10:30", "2026-01-08 14:00", "الخميس الساعة 3
  مساءً"), or another day without a time ("Thursday works better"), read in the attendee's time zone, the next
  such moment after now;
- a **decline**: "not interested", "cancel", "no thanks", "غير مهتم", "لا شكرا"... (an unsubscribe or a
  complaint, which the classification service recognises, is one too);
- **unclear**: anything else (a question, two numbers): the times are proposed again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from include.domain.quiet_hours import zone

Kind = Literal["pick", "counter", "decline", "unclear"]
Outcome = Literal["agreed", "counter_unavailable", "unclear", "declined", "no_agreement"]

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_WEEKDAYS = {
    **dict.fromkeys(("monday", "mon", "الاثنين", "الإثنين", "الأثنين"), 0),
    **dict.fromkeys(("tuesday", "tues", "tue", "الثلاثاء"), 1),
    **dict.fromkeys(("wednesday", "wed", "الأربعاء", "الاربعاء"), 2),
    **dict.fromkeys(("thursday", "thurs", "thur", "thu", "الخميس"), 3),
    **dict.fromkeys(("friday", "fri", "الجمعة"), 4),
    **dict.fromkeys(("saturday", "sat", "السبت"), 5),
    **dict.fromkeys(("sunday", "sun", "الأحد", "الاحد"), 6),
}
_ORDINALS = {
    **dict.fromkeys(("first", "الأول", "الاول", "الأولى", "الاولى"), 1),
    **dict.fromkeys(("second", "الثاني", "الثانية"), 2),
    **dict.fromkeys(("third", "الثالث", "الثالثة"), 3),
    **dict.fromkeys(("fourth", "الرابع", "الرابعة"), 4),
    **dict.fromkeys(("fifth", "الخامس", "الخامسة"), 5),
}
_DECLINES = (
    "not interested",
    "no longer interested",
    "no thanks",
    "no, thanks",
    "no thank you",
    "cancel",
    "don't want",
    "do not want",
    "not needed",
    "غير مهتم",
    "مو مهتم",
    "مش مهتم",
    "لا أريد",
    "لا اريد",
    "لا شكرا",
    "لا شكراً",
    "إلغاء",
    "الغاء",
)
_TOMORROW = ("tomorrow", "غدا", "غداً", "بكرة", "بكره", "بكرا")
_TODAY = ("today", "اليوم")
_PM = ("pm", "p.m.", "مساء", "مساءً", "مساءا", "عصرا", "عصراً", "العصر", "المساء")
_AM = ("am", "a.m.", "صباحا", "صباحاً", "الصبح", "الصباح")
_MARK = r"(?P<mark>a\.m\.|p\.m\.|am|pm|صباحاً|صباحا|الصبح|الصباح|مساءً|مساءا|مساء|المساء|عصراً|عصرا|العصر)"
_TIME = re.compile(
    r"(?P<h1>\d{1,2}):(?P<m1>\d{2})\s*" + _MARK.replace("mark", "mark1") + "?"
    r"|(?:\bat\s*|الساعة\s*|الساعه\s*)(?P<h2>\d{1,2})(?![\d:])\s*" + _MARK.replace("mark", "mark2") + "?"
    r"|(?P<h3>\d{1,2})\s*" + _MARK.replace("mark", "mark3")
)
_ISO_DATE = re.compile(r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})")
_WORD = re.compile(r"[a-z]+|[\u0600-\u06ff]+")
_PICK = re.compile(r"(?<![\d:])([1-9])(?![\d:])")


@dataclass(frozen=True)
class Reading:
    kind: Kind
    option: int | None = None
    """The option picked (1-based)."""
    slot: datetime | None = None
    """The moment picked or countered (aware UTC); for a counter naming a day only, noon of that day."""
    day_only: bool = False


def normalise(text: str) -> str:
    return " ".join(text.translate(_DIGITS).lower().replace("\u0640", "").split())


def read_answer(text: str, options: list[datetime], *, time_zone: str, now: datetime) -> Reading:
    """What ``text`` answers to ``options`` (proposed, in this order), read in ``time_zone`` after ``now``."""
    said = normalise(text)
    if any(cue in said for cue in _DECLINES):
        return Reading("decline")
    moment, day_only = _moment(said, time_zone=time_zone, now=now)
    if moment is not None:
        for number, option in enumerate(options, start=1):
            if option == moment and not day_only:
                return Reading("pick", option=number, slot=option)
        return Reading("counter", slot=moment, day_only=day_only)
    words = set(_WORD.findall(said))
    ordinals = {_ORDINALS[word] for word in words if word in _ORDINALS}
    numbers = {int(n) for n in _PICK.findall(said)} | ordinals
    if len(numbers) == 1 and 1 <= (number := numbers.pop()) <= len(options):
        return Reading("pick", option=number, slot=options[number - 1])
    return Reading("unclear")


def _moment(said: str, *, time_zone: str, now: datetime) -> tuple[datetime | None, bool]:
    """The moment a counter-proposal names (aware UTC) and whether it named only a day."""
    tz = zone(time_zone)
    today = now.astimezone(tz).date()
    day: date | None = None
    if iso := _ISO_DATE.search(said):
        try:
            day = date(int(iso["y"]), int(iso["mo"]), int(iso["d"]))
        except ValueError:
            day = None
        said = said.replace(iso.group(0), " ")
    words = _WORD.findall(said)
    if day is None and any(word in _TOMORROW for word in words):
        day = today + timedelta(days=1)
    elif day is None and any(word in _TODAY for word in words):
        day = today
    weekday = False
    if day is None and (weekdays := [_WEEKDAYS[word] for word in words if word in _WEEKDAYS]):
        day, weekday = today + timedelta(days=(weekdays[0] - today.weekday()) % 7), True
    clock = _clock(said)
    if day is None and clock is None:
        return None, False
    if day is None:
        # A time alone: its next occurrence.
        day = today
        if clock is not None and datetime.combine(day, clock, tzinfo=tz) <= now:
            day += timedelta(days=1)
    elif weekday and datetime.combine(day, clock or time(12), tzinfo=tz) <= now:
        day += timedelta(days=7)  # "Monday" said on a Monday afternoon: next Monday
    if clock is None:
        return datetime.combine(day, time(12), tzinfo=tz).astimezone(UTC), True
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC), False


def _clock(said: str) -> time | None:
    found = _TIME.search(said)
    if found is None:
        return None
    hour = int(found["h1"] or found["h2"] or found["h3"])
    minute = int(found["m1"] or 0)
    mark = found["mark1"] or found["mark2"] or found["mark3"]
    if mark in _PM and hour < 12:
        hour += 12
    elif mark in _AM and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


@dataclass(frozen=True)
class Step:
    outcome: Outcome
    next: Literal["agreed", "next_round", "ended"]
    slot: datetime | None = None
    near: datetime | None = None
    """Where the next round's proposals should cluster (a counter the calendar could not take)."""


def negotiate(reading: Reading, *, counter_free: bool, round_no: int, max_rounds: int) -> Step:
    """The negotiation's next step after ``reading`` (``counter_free``: the organizer's calendar has the
    countered slot free). Out of rounds, anything but an agreement ends it without one."""
    last = round_no >= max_rounds
    if reading.kind == "decline":
        return Step("declined", "ended")
    if reading.kind == "pick" or (reading.kind == "counter" and counter_free and not reading.day_only):
        return Step("agreed", "agreed", slot=reading.slot)
    if last:
        return Step("no_agreement", "ended")
    if reading.kind == "counter":
        return Step("counter_unavailable", "next_round", near=reading.slot)
    return Step("unclear", "next_round")
