"""The Temporal Candidate Rule, one criterion at a time, and the durations it reads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from execution_plane.catalog import Criterion, Duration, PausePoint, WaitsOn, WorkflowClass, classify
from execution_plane.catalog.model import DAY, HOUR, MINUTE, MONTH, SECOND, WEEK

QUICK = Duration.under(5 * SECOND)


@dataclass(frozen=True)
class Facts:
    """A workflow that meets no durable criterion and no medium one: the baseline each test changes once."""

    duration: Duration = QUICK
    external_systems: tuple[str, ...] = ()
    pause_points: tuple[PausePoint, ...] = ()
    compensation: tuple[str, ...] = ()
    external_commitment: bool = False


BASELINE = Facts()


@pytest.mark.parametrize(
    ("facts", "criterion", "reason"),
    [
        pytest.param(
            dataclasses.replace(BASELINE, duration=Duration(DAY, 14 * DAY)),
            Criterion.SPANS_DAYS,
            "spans days (up to 14 days)",
            id="spans-days",
        ),
        pytest.param(
            dataclasses.replace(BASELINE, external_systems=("Email", "WhatsApp", "CRM", "eSign")),
            Criterion.EXTERNAL_SYSTEMS,
            "crosses 4 external systems: Email, WhatsApp, CRM, eSign",
            id="external-systems",
        ),
        pytest.param(
            dataclasses.replace(BASELINE, compensation=("Void signature request",)),
            Criterion.COMPENSATION,
            "requires compensation: Void signature request",
            id="compensation",
        ),
        pytest.param(
            dataclasses.replace(BASELINE, pause_points=(PausePoint("Legal review", WaitsOn.PERSON),)),
            Criterion.HUMAN_APPROVAL,
            "pauses for human approval: Legal review",
            id="human-approval",
        ),
        pytest.param(
            dataclasses.replace(BASELINE, external_commitment=True),
            Criterion.EXTERNAL_COMMITMENT,
            "represents an external commitment (contract, payment or message to an outside party)",
            id="external-commitment",
        ),
    ],
)
def test_each_durable_criterion_alone_makes_a_workflow_durable(
    facts: Facts, criterion: Criterion, reason: str
) -> None:
    result = classify(facts)

    assert result.workflow_class is WorkflowClass.LONG_LIVED_DURABLE
    assert result.criteria == (criterion,)
    assert result.reasons == (reason,)


def test_no_criterion_under_30_seconds_without_external_io_is_short_lived() -> None:
    result = classify(BASELINE)

    assert result.workflow_class is WorkflowClass.SHORT_LIVED_LOCAL
    assert result.criteria == (Criterion.QUICK_AND_LOCAL,)
    assert result.reasons == ("under 30 s (<5s), no external I/O",)


@pytest.mark.parametrize(
    ("facts", "criterion", "reason"),
    [
        pytest.param(
            dataclasses.replace(BASELINE, duration=Duration(MINUTE, 5 * MINUTE)),
            Criterion.OVER_30_SECONDS,
            "runs up to 5 min, over the 30 s short-lived limit",
            id="over-30-seconds",
        ),
        pytest.param(
            dataclasses.replace(BASELINE, external_systems=("LLM provider",)),
            Criterion.EXTERNAL_IO,
            "has external I/O: LLM provider",
            id="one-external-system",
        ),
    ],
)
def test_no_durable_criterion_but_long_or_external_is_medium_lived(
    facts: Facts, criterion: Criterion, reason: str
) -> None:
    result = classify(facts)

    assert result.workflow_class is WorkflowClass.MEDIUM_LIVED_ORCHESTRATED
    assert result.criteria == (criterion,)
    assert result.reasons == (reason,)


def test_days_start_at_24_hours() -> None:
    just_under = classify(dataclasses.replace(BASELINE, duration=Duration(HOUR, DAY - SECOND)))
    one_day = classify(dataclasses.replace(BASELINE, duration=Duration(HOUR, DAY)))

    assert just_under.workflow_class is WorkflowClass.MEDIUM_LIVED_ORCHESTRATED
    assert one_day.criteria == (Criterion.SPANS_DAYS,)


def test_short_lived_limit_is_30_seconds_inclusive() -> None:
    at_limit = classify(dataclasses.replace(BASELINE, duration=Duration.under(30 * SECOND)))
    over_limit = classify(dataclasses.replace(BASELINE, duration=Duration.under(31 * SECOND)))

    assert at_limit.workflow_class is WorkflowClass.SHORT_LIVED_LOCAL
    assert over_limit.workflow_class is WorkflowClass.MEDIUM_LIVED_ORCHESTRATED


@pytest.mark.parametrize("waits_on", [WaitsOn.EVENT, WaitsOn.TIME])
def test_a_pause_that_waits_on_no_person_is_not_a_human_approval(waits_on: WaitsOn) -> None:
    result = classify(
        dataclasses.replace(BASELINE, pause_points=(PausePoint("Awaiting signature", waits_on),))
    )

    assert result.workflow_class is WorkflowClass.SHORT_LIVED_LOCAL


def test_every_met_criterion_is_reported_in_rule_order() -> None:
    facts = Facts(
        duration=Duration(DAY, 7 * DAY),
        external_systems=("Email", "CRM"),
        pause_points=(PausePoint("Executive approval", WaitsOn.PERSON),),
        compensation=("Retract term sheet",),
        external_commitment=True,
    )

    assert classify(facts).criteria == (
        Criterion.SPANS_DAYS,
        Criterion.EXTERNAL_SYSTEMS,
        Criterion.COMPENSATION,
        Criterion.HUMAN_APPROVAL,
        Criterion.EXTERNAL_COMMITMENT,
    )


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (Duration.under(5 * SECOND), "<5s"),
        (Duration(MINUTE, 5 * MINUTE), "1-5 min"),
        (Duration(10 * MINUTE, 30 * MINUTE), "10-30 min"),
        (Duration(DAY, 14 * DAY), "1-14 days"),
        (Duration(2 * WEEK, 8 * WEEK), "2-8 weeks"),
        (Duration(3 * MONTH, 6 * MONTH), "3-6 months"),
        (Duration(HOUR, 2 * DAY), "1 hour-2 days"),
    ],
)
def test_duration_reads_like_the_spec(duration: Duration, text: str) -> None:
    assert str(duration) == text


@pytest.mark.parametrize(("low", "high"), [(-1, 5), (0, 0), (10, 5)])
def test_duration_rejects_impossible_bounds(low: int, high: int) -> None:
    with pytest.raises(ValueError, match="invalid duration bounds"):
        Duration(low, high)


def test_workflow_class_tag_is_the_airflow_dag_tag() -> None:
    assert WorkflowClass.LONG_LIVED_DURABLE.tag == "class:long-lived-durable"
    assert WorkflowClass.SHORT_LIVED_LOCAL.tag == "class:short-lived-local"
    assert WorkflowClass.MEDIUM_LIVED_ORCHESTRATED.tag == "class:medium-lived-orchestrated"
