"""outreach_sequence's steps below the DAG: bad input refused before anything is recorded, a message due
outside the send window held until it opens, and the names the DAG file must repeat kept equal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from execution_plane.durable import body_of
from tests.support.workflow_runs import ParamsRun
from workflows.outreach_sequence import common, enrolment, sending
from workflows.outreach_sequence import dag as dag_file
from workflows.outreach_sequence.domain import CAMPAIGNS, CHANNELS, Contact

WINDOW = {"send_window_start": "09:00", "send_window_end": "18:00"}
SAUDI = Contact(contact_id="C-1", first_name="ليلى", country="SA", time_zone="Asia/Riyadh", language="ar")


@pytest.mark.parametrize(("start", "end"), [("18:00", "09:00"), ("09:00", "09:00")])
def test_a_window_that_does_not_end_after_it_starts_is_refused_naming_the_field(start: str, end: str) -> None:
    check = body_of(enrolment.check_request)
    with pytest.raises(ValueError, match=r"^send_window_end: send window end \(.*\) must be after its start"):
        check(ParamsRun({"send_window_start": start, "send_window_end": end}))
    assert check(ParamsRun({"send_window_start": "00:00", "send_window_end": "24:00"})) is None


def test_a_message_due_in_quiet_hours_is_held_until_the_window_opens() -> None:
    from airflow.sdk.exceptions import AirflowRescheduleException

    # Friday 2026-01-09 10:00 in Riyadh: the Saudi weekend, held until Sunday 09:00 (06:00 UTC).
    with pytest.raises(AirflowRescheduleException) as held:
        sending.hold_outside_window(SAUDI, WINDOW, datetime(2026, 1, 9, 7, 0, tzinfo=UTC))
    assert held.value.reschedule_date == datetime(2026, 1, 11, 6, 0, tzinfo=UTC)
    # Sunday 10:00 in Riyadh: a working day, inside the window: sent now.
    assert sending.hold_outside_window(SAUDI, WINDOW, datetime(2026, 1, 11, 7, 0, tzinfo=UTC)) is None


def test_a_send_whose_outcome_is_unknown_is_never_sent_elsewhere() -> None:
    from execution_plane.hooks.http import ProviderError

    assert sending._unknown_outcome(ProviderError("whatsapp", 0, "timeout", retryable=True))
    assert sending._unknown_outcome(ProviderError("whatsapp", 504, "lost response", retryable=True))
    assert sending._unknown_outcome(ProviderError("whatsapp", 409, "key in use", retryable=True))
    assert not sending._unknown_outcome(ProviderError("whatsapp", 503, "down", retryable=True))
    assert not sending._unknown_outcome(ProviderError("whatsapp", 400, "bad number", retryable=False))


def test_the_names_the_dag_file_repeats_are_the_sources() -> None:
    from execution_plane.hooks.messaging import RECIPIENT_EVENT_TYPES

    assert common.RECIPIENT_EVENTS == RECIPIENT_EVENT_TYPES
    assert dag_file.CAMPAIGNS == CAMPAIGNS and dag_file.CHANNELS == CHANNELS
