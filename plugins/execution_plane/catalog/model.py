"""The inventory's vocabulary: workflow classes, durations, pause points and the workflow record."""

from __future__ import annotations

import enum
from dataclasses import dataclass

SECOND = 1
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
# Calendar months vary; 30 days is precise enough for the rule, which only compares against one day.
MONTH = 30 * DAY

# Largest first: a value is written in the largest unit that divides it exactly.
_UNITS: tuple[tuple[int, str, str], ...] = (
    (MONTH, "month", "months"),
    (WEEK, "week", "weeks"),
    (DAY, "day", "days"),
    (HOUR, "hour", "hours"),
    (MINUTE, "min", "min"),
    (SECOND, "s", "s"),
)
# Past this count a range reads better with a unit per bound ("1 hour-2 days", not "1-48 hours").
_MAX_COUNT_IN_ONE_UNIT = 30


class WorkflowClass(enum.StrEnum):
    """The three classes of the spec's "Classification Rules" table."""

    SHORT_LIVED_LOCAL = "short-lived-local"
    MEDIUM_LIVED_ORCHESTRATED = "medium-lived-orchestrated"
    LONG_LIVED_DURABLE = "long-lived-durable"

    @property
    def tag(self) -> str:
        """The Airflow DAG tag that puts a DAG in this class, e.g. ``class:long-lived-durable``."""
        return f"class:{self.value}"


class WaitsOn(enum.StrEnum):
    """Who or what a pause point waits for; only a person counts as a human-approval pause for the rule."""

    PERSON = "person"
    """Someone in the company reviews, approves or decides (manager, legal, board, IC, gate review)."""
    EVENT = "event"
    """An outside party or a system reports back (a signature, a filing, a reply, a finished workstream)."""
    TIME = "time"
    """A delay or a date passes (a follow-up interval)."""


def _unit_of(seconds: int) -> tuple[int, str, str]:
    return next(unit for unit in _UNITS if seconds % unit[0] == 0)


def _amount(seconds: int, unit: tuple[int, str, str]) -> str:
    size, singular, plural = unit
    count = seconds // size
    if size == SECOND:
        return f"{count}s"
    return f"{count} {singular if count == 1 else plural}"


@dataclass(frozen=True)
class Duration:
    """How long one run lasts, from ``min_seconds`` to ``max_seconds``; ``min_seconds == 0`` means "under".

    Built from the unit constants (``Duration(DAY, 14 * DAY)``, ``Duration.under(5 * SECOND)``) rather than
    parsed from the spec's text, so each figure is checked where it is written.
    """

    min_seconds: int
    max_seconds: int

    def __post_init__(self) -> None:
        if self.min_seconds < 0 or self.max_seconds <= 0 or self.min_seconds > self.max_seconds:
            raise ValueError(f"invalid duration bounds: {self.min_seconds}..{self.max_seconds} s")

    @classmethod
    def under(cls, max_seconds: int) -> Duration:
        """A duration the spec gives only as an upper bound, e.g. ``<5s``."""
        return cls(0, max_seconds)

    def _shared_unit(self) -> tuple[int, str, str] | None:
        """The unit both bounds are written in, or None when each bound needs its own."""
        if self.min_seconds == 0:
            return _unit_of(self.max_seconds)
        unit = _unit_of(self.min_seconds)
        if self.max_seconds % unit[0] == 0 and self.max_seconds // unit[0] <= _MAX_COUNT_IN_ONE_UNIT:
            return unit
        return None

    @property
    def upper_bound(self) -> str:
        """The maximum in words, in the same unit as ``str(self)``, e.g. ``14 days``."""
        return _amount(self.max_seconds, self._shared_unit() or _unit_of(self.max_seconds))

    def __str__(self) -> str:
        if self.min_seconds == 0:
            return f"<{self.upper_bound}"
        unit = self._shared_unit()
        if unit is None:
            low = _amount(self.min_seconds, _unit_of(self.min_seconds))
            return f"{low}-{_amount(self.max_seconds, _unit_of(self.max_seconds))}"
        size, _, plural = unit
        separator = "" if size == SECOND else " "
        return f"{self.min_seconds // size}-{self.max_seconds // size}{separator}{plural}"


@dataclass(frozen=True)
class PausePoint:
    """A place where a run stops until someone or something answers."""

    name: str
    waits_on: WaitsOn
