"""A workflow of the spec as a record: its facts as the spec states them, and the class the rule gives it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from execution_plane.catalog.model import Duration, PausePoint, WorkflowClass
from execution_plane.catalog.rule import Classification, classify

_SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


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
