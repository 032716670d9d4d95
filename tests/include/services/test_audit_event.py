"""Audit events (include/services/audit): what may be chained, and what the chained row holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from include.services.audit import MAX_DETAILS_BYTES, MAX_DETAILS_DEPTH, AuditEvent, chained_details


def event(**overrides: Any) -> AuditEvent:
    return AuditEvent.model_validate(
        {
            "event_id": "ev-1",
            "component": "crm-sync",
            "actor": "ep_service",
            "action": "lead.scored",
            **overrides,
        }
    )


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_id", "with space"),
        ("component", "Upper"),
        ("action", "has space"),
        ("actor", ""),
        ("actor", "nul\x00"),
        ("workflow_id", ""),
        ("occurred_at", "2026-01-01T00:00:00"),  # no time zone
        ("details", {"text": "nul\x00"}),
        ("details", {"nul\x00key": 1}),
        ("details", {"text": "\ud800"}),
        ("details", {"x": float("nan")}),
        ("details", {"blob": "x" * MAX_DETAILS_BYTES}),
        ("details", nested(MAX_DETAILS_DEPTH + 1)),
        ("extra", 1),
    ],
)
def test_an_event_jsonb_would_not_keep_as_sent_is_refused_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        event(**{field: value})
    assert caught.value.errors()[0]["loc"][0] == field


def test_details_at_the_limits_are_accepted() -> None:
    assert event(details=nested(MAX_DETAILS_DEPTH)).details
    assert event(details={"text": "é" * 100, "list": [1, 2.5, None, True]}).details["list"] == [
        1,
        2.5,
        None,
        True,
    ]


def test_the_chained_row_names_the_event_and_its_reporter() -> None:
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert chained_details(event(occurred_at=at, details={"k": "v"})) == {
        "event_id": "ev-1",
        "component": "crm-sync",
        "occurred_at": "2026-12-01T09:30:00+00:00",
        "details": {"k": "v"},
    }
