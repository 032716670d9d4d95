"""When reminders and the escalation of an open approval are due (execution_plane.approvals.policy): pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from execution_plane.approvals.policy import (
    ESCALATION,
    PolicyError,
    ReminderPolicy,
    address,
    due,
    parse_policy,
)

OPENED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EXPIRES = OPENED + timedelta(hours=72)
MANAGERS = {"escalation": {"managers": {"manager": "executive"}, "fallback": "oversight"}}


def due_at(hours: float, policy: ReminderPolicy | None = None, **kwargs: object) -> list[tuple[str, str]]:
    args: dict = {"assignees": ["manager", "admin"], "remind_to": None, **kwargs}
    found = due(
        policy or parse_policy(MANAGERS),
        opened=args.pop("opened", OPENED),
        expires=args.pop("expires", EXPIRES),
        now=OPENED + timedelta(hours=hours),
        **args,
    )
    return [(d.kind, d.to) for d in found]


def test_defaults_half_time_a_day_before_and_overdue_at_three_quarters() -> None:
    policy = parse_policy(None)
    assert [r.kind for r in policy.reminders] == ["half_time", "day_before"]
    assert policy.escalation.at_fraction == 0.75
    assert policy.escalation.to("manager") == "approvals-oversight"


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (0, []),
        (35.99, []),
        (36, [("half_time", "manager@execution-plane.example")]),
        (47.9, [("half_time", "manager@execution-plane.example")]),
        # a missed half-time is superseded by the later reminder, never sent after it
        (48, [("day_before", "manager@execution-plane.example")]),
        (
            54,
            [
                ("day_before", "manager@execution-plane.example"),
                (ESCALATION, "executive@execution-plane.example"),
            ],
        ),
        # expired but still open (Airflow has not applied the default yet): no reminder, still overdue
        (72, [(ESCALATION, "executive@execution-plane.example")]),
        (200, [(ESCALATION, "executive@execution-plane.example")]),
    ],
)
def test_what_is_due_along_a_72_hour_window(hours: float, expected: list[tuple[str, str]]) -> None:
    assert due_at(hours) == expected


def test_a_reminder_before_the_request_is_not_sent() -> None:
    """On a 12 h window the day-before reminder would fall before the request itself."""
    expires = OPENED + timedelta(hours=12)
    assert due_at(0.01, expires=expires) == []
    assert due_at(6, expires=expires) == [("half_time", "manager@execution-plane.example")]
    assert due_at(11.9, expires=expires)[0] == ("half_time", "manager@execution-plane.example")


def test_reminders_go_to_the_recorded_address_and_escalation_to_the_fallback_without_a_manager() -> None:
    found = due_at(60, assignees=["legal", "admin"], remind_to="counsel@firm.example")
    assert found == [
        ("day_before", "counsel@firm.example"),
        (ESCALATION, "oversight@execution-plane.example"),
    ]
    assert address("someone@else.example") == "someone@else.example"


def test_an_approval_only_the_admin_may_answer_escalates_but_reminds_nobody() -> None:
    assert due_at(60, assignees=["admin"]) == [(ESCALATION, "oversight@execution-plane.example")]


def test_a_window_without_length_has_nothing_due() -> None:
    assert due_at(5, expires=OPENED) == []


def test_fractions_and_hours_are_configurable() -> None:
    policy = parse_policy(
        '{"reminders": [{"kind": "early", "at_fraction": 0.1},'
        ' {"kind": "last_hour", "hours_before_expiry": 1}],'
        ' "escalation": {"at_fraction": 1.0}}'
    )
    assert due_at(7.2, policy) == [("early", "manager@execution-plane.example")]
    assert due_at(71, policy) == [("last_hour", "manager@execution-plane.example")]
    assert [k for k, _ in due_at(71.9, policy)] == ["last_hour"]
    assert [k for k, _ in due_at(72, policy)] == [ESCALATION]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"reminders": [{"kind": "x"}]}, "reminders.0"),
        ({"reminders": [{"kind": "x", "at_fraction": 0.5, "hours_before_expiry": 2}]}, "reminders.0"),
        ({"reminders": [{"kind": "x", "at_fraction": 1.5}]}, "reminders.0.at_fraction"),
        ({"reminders": [{"kind": "x", "hours_before_expiry": -1}]}, "reminders.0.hours_before_expiry"),
        ({"reminders": [{"kind": "Bad Kind", "at_fraction": 0.5}]}, "reminders.0.kind"),
        ({"reminders": [{"kind": "escalation", "at_fraction": 0.5}]}, "reminders.0"),
        ({"reminders": [{"kind": "a", "at_fraction": 0.5}, {"kind": "a", "at_fraction": 0.6}]}, "policy"),
        ({"escalation": {"at_fraction": 0}}, "escalation.at_fraction"),
        ({"escalation": {"fallback": ""}}, "escalation.fallback"),
        ({"escalation": {"manager": {}}}, "escalation.manager"),
        ({"remind": []}, "remind"),
        ("{not json", "policy"),
    ],
)
def test_a_malformed_policy_is_refused_naming_the_field(value: object, field: str) -> None:
    with pytest.raises(PolicyError, match=f"approval reminder policy: {field}"):
        parse_policy(value)
