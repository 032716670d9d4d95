"""The phase gates: Day-30, Day-60 and Day-90, each counted from Day 1 in program days.

A phase's review happens when its day has come: Day 1 + the phase's day count + every extension granted so
far, in days of ``day_seconds`` seconds (86,400 in production; tests shrink a program day to a fraction of a
second). "Extend by N days" moves the next wait: the same phase is reviewed again N days later, and every
later phase slips by the same N days (a program that needed longer for Day 30 reaches Day 60 later too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal

Phase = Literal["day30", "day60", "day90"]
PHASES: tuple[Phase, ...] = ("day30", "day60", "day90")
PHASE_TITLES: dict[str, str] = {"day30": "Day 30", "day60": "Day 60", "day90": "Day 90"}
DEFAULT_PHASE_DAYS: dict[str, int] = {"day30": 30, "day60": 60, "day90": 90}
# The graph holds this many reviews per phase: the last one offers pass or stop, no further extension.
REVIEW_ROUNDS = 3
MAX_EXTENSION_DAYS = 90
DEFAULT_EXTENSION_DAYS = 14


class InvalidPhaseDays(ValueError):
    """Phase lengths that do not make a program (not increasing, or not positive)."""


def phase_days(params: Mapping[str, object]) -> dict[str, int]:
    """Each phase's day count from the run's params (``day30_days``, ...), checked to increase."""
    days: dict[str, int] = {
        phase: int(str(params.get(f"{phase}_days", DEFAULT_PHASE_DAYS[phase]))) for phase in PHASES
    }
    values = [days[phase] for phase in PHASES]
    if values[0] < 1 or any(later <= earlier for earlier, later in pairwise(values)):
        raise InvalidPhaseDays(
            "phase days must be positive and increase (Day 30 < Day 60 < Day 90): "
            + ", ".join(f"{phase}={days[phase]}" for phase in PHASES)
        )
    return days


def due_at(
    day1_at: datetime, *, phase_day: int, extension_days: Iterable[int], day_seconds: float
) -> datetime:
    """When a phase review is due: Day 1 + the phase's days + every extension so far."""
    total_days = phase_day + sum(extension_days)
    return day1_at + timedelta(seconds=total_days * day_seconds)


def extension(days: object) -> int:
    """The days a reviewer's "Extend" asks for, within 1..MAX_EXTENSION_DAYS (the default when none given)."""
    try:
        value = int(str(days)) if days not in (None, "") else DEFAULT_EXTENSION_DAYS
    except ValueError:
        value = DEFAULT_EXTENSION_DAYS
    return max(1, min(MAX_EXTENSION_DAYS, value))
