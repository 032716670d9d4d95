"""meeting_booking's steps below the DAG: bad input refused before anything is recorded, naming the field;
the names the DAG file must repeat kept equal."""

from __future__ import annotations

from typing import Any

import pytest

from execution_plane.durable import body_of
from tests.support.workflow_runs import ParamsRun
from workflows.meeting_booking import common, negotiation

GOOD = {"attendee_time_zone": "Asia/Riyadh", "channel": "email", "attendee_phone": ""}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"attendee_time_zone": "Mars/Olympus"}, "attendee_time_zone: unknown time zone 'Mars/Olympus'"),
        ({"channel": "whatsapp"}, "attendee_phone: required to negotiate on whatsapp"),
        ({"channel": "sms"}, "attendee_phone: required to negotiate on sms"),
    ],
)
def test_bad_input_is_refused_naming_the_field(changes: dict[str, Any], message: str) -> None:
    check = body_of(negotiation.check_request)
    with pytest.raises(ValueError, match=message):
        check(ParamsRun({**GOOD, **changes}))
    assert check(ParamsRun(GOOD)) is None
    assert check(ParamsRun({**GOOD, "channel": "sms", "attendee_phone": "+966501234567"})) is None


def test_the_event_types_the_dag_file_repeats_are_the_hooks() -> None:
    from execution_plane.hooks.messaging import RECIPIENT_EVENT_TYPES

    assert common.RECIPIENT_EVENTS == RECIPIENT_EVENT_TYPES
