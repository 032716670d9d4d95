"""The inventory's vocabulary: workflow classes, durations, pause points and the workflow record."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from execution_plane.catalog.rule import Classification

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

_SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


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


@dataclass(frozen=True)
class WorkflowRecord:
    """One workflow of the spec, with its facts as the spec states them and the class the rule gives it."""

    key: str
    """Stable snake_case id."""
    name: str
    """The workflow's name as the spec writes it."""
    spec_engine: str
    """The spec's engine column; long-lived workflows have none, so their "Current" line stands in."""
    spec_class: WorkflowClass
    """The class of the spec table the workflow is listed in."""
    duration: Duration
    external_systems: tuple[str, ...]
    """Outside systems the workflow talks to; empty when the spec says internal only."""
    steps: tuple[str, ...]
    """The spec's step arrows, one entry per arrow-separated step."""
    pause_points: tuple[PausePoint, ...]
    compensation: tuple[str, ...]
    """Undo actions the spec lists; empty when it lists none."""
    external_commitment: bool
    """A contract, a payment, or a message to someone outside the company."""
    implementation: str | None
    """The dag_id that implements the workflow, or None."""
    note: str = ""
    """How facts the spec leaves implicit were read; empty when the spec states them all."""

    def __post_init__(self) -> None:
        if not _SNAKE_CASE.match(self.key):
            raise ValueError(f"workflow key must be snake_case: {self.key!r}")

    @cached_property
    def classification(self) -> Classification:
        """The rule's verdict on this record's facts."""
        # Imported here because rule.py builds on this module's types; a top-level import would be circular.
        from execution_plane.catalog.rule import classify

        return classify(self)

    @property
    def rule_class(self) -> WorkflowClass:
        return self.classification.workflow_class

    @property
    def rule_reasons(self) -> tuple[str, ...]:
        return self.classification.reasons

    @property
    def workflow_class(self) -> WorkflowClass:
        """The class the workflow runs as: the rule's, which the spec makes binding over its tables."""
        return self.rule_class

    @property
    def disagrees_with_spec(self) -> bool:
        return self.rule_class != self.spec_class
