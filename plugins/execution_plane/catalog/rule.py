"""The spec's Temporal Candidate Rule, and the short/medium split of its "Classification Rules" table.

A workflow is long-lived durable (a Temporal candidate) if ANY of these holds:

- it spans days: its maximum duration is 24 hours or more;
- it crosses 2 or more external systems;
- it requires compensation: the spec lists at least one undo action;
- it pauses for human approval: a pause point waits on a person;
- it represents an external commitment: a contract, a payment, or a message to someone outside the company.

Otherwise it is short-lived local when it finishes within 30 s and has no external I/O, else medium-lived
orchestrated. The table's "multi-step" and "single service" do not enter the test: every workflow the spec
lists is multi-step, and the spec names no services per workflow, so neither could separate the classes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from execution_plane.catalog.model import DAY, Duration, PausePoint, WaitsOn, WorkflowClass

SPANS_DAYS_SECONDS = DAY
EXTERNAL_SYSTEMS_THRESHOLD = 2
SHORT_LIVED_MAX_SECONDS = 30


class WorkflowFacts(Protocol):
    """The facts the rule reads; a ``WorkflowRecord`` has them all."""

    @property
    def duration(self) -> Duration: ...

    @property
    def external_systems(self) -> tuple[str, ...]: ...

    @property
    def pause_points(self) -> tuple[PausePoint, ...]: ...

    @property
    def compensation(self) -> tuple[str, ...]: ...

    @property
    def external_commitment(self) -> bool: ...


class Criterion(enum.StrEnum):
    """Why a workflow got its class; the value is a short label for tables."""

    SPANS_DAYS = "spans days"
    EXTERNAL_SYSTEMS = "2+ external systems"
    COMPENSATION = "compensation"
    HUMAN_APPROVAL = "human approval pause"
    EXTERNAL_COMMITMENT = "external commitment"
    OVER_30_SECONDS = "over 30 s"
    EXTERNAL_IO = "external I/O"
    QUICK_AND_LOCAL = "under 30 s, no external I/O"


@dataclass(frozen=True)
class Classification:
    """The rule's verdict: a class, the criteria that decided it and one readable reason per criterion."""

    workflow_class: WorkflowClass
    criteria: tuple[Criterion, ...]
    reasons: tuple[str, ...]


def _durable_findings(facts: WorkflowFacts) -> list[tuple[Criterion, str]]:
    findings: list[tuple[Criterion, str]] = []
    if facts.duration.max_seconds >= SPANS_DAYS_SECONDS:
        findings.append((Criterion.SPANS_DAYS, f"spans days (up to {facts.duration.upper_bound})"))
    if len(facts.external_systems) >= EXTERNAL_SYSTEMS_THRESHOLD:
        systems = ", ".join(facts.external_systems)
        findings.append(
            (Criterion.EXTERNAL_SYSTEMS, f"crosses {len(facts.external_systems)} external systems: {systems}")
        )
    if facts.compensation:
        findings.append((Criterion.COMPENSATION, f"requires compensation: {', '.join(facts.compensation)}"))
    approvals = [pause.name for pause in facts.pause_points if pause.waits_on is WaitsOn.PERSON]
    if approvals:
        findings.append((Criterion.HUMAN_APPROVAL, f"pauses for human approval: {', '.join(approvals)}"))
    if facts.external_commitment:
        findings.append(
            (
                Criterion.EXTERNAL_COMMITMENT,
                "represents an external commitment (contract, payment or message to an outside party)",
            )
        )
    return findings


def _medium_findings(facts: WorkflowFacts) -> list[tuple[Criterion, str]]:
    findings: list[tuple[Criterion, str]] = []
    if facts.duration.max_seconds > SHORT_LIVED_MAX_SECONDS:
        findings.append(
            (
                Criterion.OVER_30_SECONDS,
                f"runs up to {facts.duration.upper_bound}, over the 30 s short-lived limit",
            )
        )
    if facts.external_systems:
        findings.append((Criterion.EXTERNAL_IO, f"has external I/O: {', '.join(facts.external_systems)}"))
    return findings


def _verdict(workflow_class: WorkflowClass, findings: list[tuple[Criterion, str]]) -> Classification:
    return Classification(
        workflow_class=workflow_class,
        criteria=tuple(criterion for criterion, _ in findings),
        reasons=tuple(reason for _, reason in findings),
    )


def classify(facts: WorkflowFacts) -> Classification:
    """Classify a workflow by its facts; durable criteria come first because the spec makes them a MUST."""
    durable = _durable_findings(facts)
    if durable:
        return _verdict(WorkflowClass.LONG_LIVED_DURABLE, durable)
    medium = _medium_findings(facts)
    if medium:
        return _verdict(WorkflowClass.MEDIUM_LIVED_ORCHESTRATED, medium)
    return _verdict(
        WorkflowClass.SHORT_LIVED_LOCAL,
        [(Criterion.QUICK_AND_LOCAL, f"under 30 s ({facts.duration}), no external I/O")],
    )
