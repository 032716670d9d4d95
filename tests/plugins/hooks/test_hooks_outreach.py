"""The hooks outreach_sequence and meeting_booking use, against the sandbox: CRM contacts, messaging
conversations, Cal.com availability and bookings (once, taken, cancelled twice)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from execution_plane.hooks.calcom import CalcomHook, SlotTaken
from execution_plane.hooks.crm import CrmHook
from execution_plane.hooks.http import ProviderError
from execution_plane.hooks.messaging import RECIPIENT_EVENT_TYPES, MessagingHook

MONDAY = date(2026, 1, 5)


def test_contacts_are_read_and_updated_once_per_key(sandbox: Any) -> None:
    hook = CrmHook()
    contact = hook.get_contact("C-10")
    assert contact["contact_id"] == "C-10" and contact["language"] in ("ar", "en")
    updated = hook.update_contact(
        "C-10", status="in_sequence", fields={"consent": {"sms": False}}, idempotency_key="c-1"
    )
    assert updated["status"] == "in_sequence" and updated["consent"]["sms"] is False
    assert (
        hook.update_contact(
            "C-10", status="in_sequence", fields={"consent": {"sms": False}}, idempotency_key="c-1"
        )
        == updated
    )
    assert len(sandbox.effects(system="crm", action="update_contact")) == 1


def test_conversation_routes_the_recipients_acts(sandbox: Any) -> None:
    hook = MessagingHook("sms")
    opened = hook.open_conversation(
        address="+15550001", correlation_key="wf:x:messages", idempotency_key="k1"
    )
    assert opened == hook.open_conversation(
        address="+15550001", correlation_key="wf:x:messages", idempotency_key="k1"
    )
    sent = hook.send(to="+15550001", body="hi", message_id="msg_x")
    event = sandbox.post(f"/_sandbox/messages/{sent['provider_message_id']}/opt_out?deliver=false")["event"]
    assert event["type"] in RECIPIENT_EVENT_TYPES and event["correlation_key"] == "wf:x:messages"
    closed = hook.close_conversation(opened["conversation_id"], reason="ended", idempotency_key="k2")
    assert closed["status"] == "closed"
    assert hook.close_conversation(opened["conversation_id"], reason="ended", idempotency_key="k3")["already"]
    assert [e["action"] for e in sandbox.effects(system="sms")] == [
        "open_conversation",
        "send",
        "close_conversation",
    ]


def test_calcom_books_a_free_slot_once_and_cancels(sandbox: Any) -> None:
    hook = CalcomHook()
    free = hook.free_slots("layla-haddad", MONDAY, 5)
    assert free and all(slot.tzinfo is not None for slot in free) and free == sorted(free)
    booking = {
        "username": "layla-haddad",
        "slot_start": free[0],
        "attendee_email": "p@x.example",
        "attendee_name": "P",
        "attendee_time_zone": "Asia/Riyadh",
        "title": "Intro",
    }
    first = hook.create_booking(**booking, idempotency_key="b-1")
    assert first == hook.create_booking(**booking, idempotency_key="b-1")
    assert free[0] not in hook.free_slots("layla-haddad", MONDAY, 5)
    with pytest.raises(SlotTaken):
        hook.create_booking(**booking, idempotency_key="b-2")
    assert hook.cancel_booking(first["booking_id"], reason="dropped", idempotency_key="x-1")["status"] == (
        "cancelled"
    )
    assert hook.cancel_booking(first["booking_id"], reason="dropped", idempotency_key="x-2")["already"]
    assert free[0] in hook.free_slots("layla-haddad", MONDAY, 5)
    assert [e["action"] for e in sandbox.effects(system="calcom")] == ["create_booking", "cancel_booking"]


def test_calcom_refusals_are_errors(sandbox: Any) -> None:
    hook = CalcomHook()
    with pytest.raises(ProviderError) as invalid:
        hook.create_booking(
            username="layla-haddad",
            slot_start=datetime(2026, 1, 5, 9, 15, tzinfo=UTC),
            attendee_email="p@x.example",
            attendee_name="P",
            attendee_time_zone="UTC",
            title="Intro",
            idempotency_key="b-3",
        )
    assert (invalid.value.status, invalid.value.retryable) == (422, False)
    with pytest.raises(ProviderError) as missing:
        hook.cancel_booking("bkg_nope", reason="x", idempotency_key="x-3")
    assert missing.value.status == 404
