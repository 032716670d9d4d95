"""evidence_pack's domain: what a subject is, the pack's key, the moment it is taken as of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from workflows.evidence_pack.domain import Subject, build_request_id, parse_as_of

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_a_workflow_subject_is_a_workflow_id() -> None:
    subject = Subject(type="workflow", id="signature_commitment:sig-1001")
    assert subject.key == "workflow:signature_commitment:sig-1001"
    with pytest.raises(ValidationError, match="a workflow subject is a workflow id"):
        Subject(type="workflow", id="D-1001")


def test_a_deal_subject_is_a_deal_id() -> None:
    assert Subject(type="deal", id="D-1001").key == "deal:D-1001"
    with pytest.raises(ValidationError, match="a deal subject is a CRM deal id"):
        Subject(type="deal", id="dd_room:D-1")
    with pytest.raises(ValidationError, match="type"):
        Subject(type="partner", id="P-1")  # type: ignore[arg-type]


def test_the_same_subject_and_moment_is_the_same_pack() -> None:
    subject = Subject(type="deal", id="D-1")
    plus4 = timezone(timedelta(hours=4))
    assert (
        subject.pack_id(NOW)
        == subject.pack_id(NOW.astimezone(plus4))
        == "deal:D-1@2026-12-05T12:00:00.000000Z"
    )
    assert subject.pack_id(NOW) != subject.pack_id(NOW + timedelta(microseconds=1))
    assert subject.pack_id(NOW) != Subject(type="deal", id="D-2").pack_id(NOW)


def test_as_of_defaults_to_when_the_run_was_asked_for() -> None:
    asked = NOW - timedelta(minutes=5)
    assert parse_as_of(None, default=asked, now=NOW) == asked
    assert parse_as_of("", default=asked, now=NOW) == asked
    assert parse_as_of("2026-12-01T09:00:00Z", default=asked, now=NOW) == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert parse_as_of("2026-12-01T09:00:00", default=asked, now=NOW) == datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_as_of_refuses_what_is_not_a_moment_or_lies_ahead() -> None:
    with pytest.raises(ValueError, match="not an ISO 8601"):
        parse_as_of("yesterday", default=NOW, now=NOW)
    with pytest.raises(ValueError, match="in the future"):
        parse_as_of("2027-01-01T00:00:00Z", default=NOW, now=NOW)


def test_each_run_is_one_build() -> None:
    first = build_request_id("manual__2026-12-05T12:00:00+00:00")
    assert first == build_request_id("manual__2026-12-05T12:00:00+00:00")
    assert first != build_request_id("manual__2026-12-05T12:00:01+00:00")
    assert first.startswith("pk-") and len(first) == 19
