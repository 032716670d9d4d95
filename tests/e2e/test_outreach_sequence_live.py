"""outreach_sequence on a running Airflow, through public interfaces only: started by the REST API and by the
CRM's signed webhook; the contact seeded in the CRM (the sandbox's CRM API); the recipient replies or opts out
through the sandbox's messaging controls, whose signed webhooks reach the live /webhooks/events/messaging;
the meeting a reply asks for is booked by a real meeting_booking child run, answered the same way. Checked
against the sandbox's effect log (this contact's only) and the business tables.

The send window is the whole day, in a country and time zone where now is a working day (the window and
weekend rules: tests/include/domain/); follow-ups come seconds apart.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytestmark = [pytest.mark.live, pytest.mark.timeout(900)]

DAG = "outreach_sequence"
CHILD_DAG = "meeting_booking"
CRM = {"Authorization": "Bearer e2e"}
OWNER = "layla.haddad@sales.execution-plane.example"
GULF = "ابي اعرف الحين كم السعر، وايد مهتمين بالخدمة عندكم"
WHOLE_DAY = {"send_window_start": "00:00", "send_window_end": "24:00"}


def reachable_now(countries: tuple[str, ...]) -> tuple[str, str]:
    """A (country, time zone) where the next half hour is a working day."""
    from include.domain.quiet_hours import SendWindow, is_allowed

    whole_day = SendWindow("00:00", "24:00")
    now = datetime.now(UTC)
    for country in countries:
        for zone in ("Asia/Riyadh", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"):
            if all(is_allowed(now + timedelta(minutes=m), zone, country, whole_day) for m in range(0, 31, 5)):
                return country, zone
    raise AssertionError("no working day anywhere in the next half hour")


def seed_contact(live: Any, *, arabic: bool) -> dict[str, Any]:
    """A contact of their own (an address no other test writes to: the provider routes replies by it)."""
    contact_id = f"C-{uuid.uuid4().hex[:10]}"
    country, zone = reachable_now(("SA", "AE", "BN") if arabic else ("US", "SA", "BN"))
    number = f"+9665{random.randrange(10**7, 10**8)}"
    contact = {
        "contact_id": contact_id,
        "first_name": "ليلى" if arabic else "Ana",
        "last_name": "الحداد" if arabic else "Almeida",
        "company": "Cedar Trading",
        "email": f"{contact_id.lower()}@cedar.example",
        "whatsapp": number,
        "phone": number,
        "country": country,
        "time_zone": zone,
        "language": "ar" if arabic else "en",
        "preferred_channel": "whatsapp" if arabic else "email",
        "last_message": GULF if arabic else "We would like to know more about pricing.",
        "consent": {"email": True, "whatsapp": True, "sms": False},
        "owner_name": "Layla Haddad",
        "owner_email": OWNER,
        "owner_calendar": "layla-haddad",
    }
    live.sandbox("POST", "/crm/v1/contacts", json=contact, headers=CRM)
    return contact


def sent_to(live: Any, channel: str, address: str) -> list[dict[str, Any]]:
    return [e for e in live.effects(system=channel, action="send") if e["payload"]["to"] == address]


def nth_sent(live: Any, channel: str, address: str, n: int, timeout: float = 240) -> dict[str, Any]:
    """The ``n``-th message sent on ``channel`` to ``address``, once it is sent."""
    found: list[dict[str, Any]] = live.airflow.wait(
        f"message {n} on {channel} to {address}",
        lambda: (sent := sent_to(live, channel, address)) and len(sent) >= n and sent,
        timeout,
        interval=0.5,
    )
    return found[n - 1]


def act(live: Any, message: dict[str, Any], action: str, text: str | None = None) -> None:
    """The recipient acts on ``message``: the provider's signed webhook reaches the live ingress."""
    body = {"text": text} if text else None
    result = live.sandbox("POST", f"/_sandbox/messages/{message['resource_id']}/{action}", json=body)
    assert [d["status_code"] for d in result["deliveries"]] == [202], result


def effects_of(live: Any, contact: dict[str, Any]) -> list[dict[str, Any]]:
    """This contact's effects: the CRM's record of them, what was sent to their addresses, their bookings."""
    addresses = {contact["email"], contact["whatsapp"]}
    return [
        e
        for e in live.effects()
        if e["resource_id"] == contact["contact_id"]
        or e["payload"].get("to") in addresses
        or e["payload"].get("address") in addresses
        or e["payload"].get("attendee_email") == contact["email"]
    ]


def counts(effects: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in effects)


def each_once(effects: list[dict[str, Any]]) -> None:
    keyed = Counter((e["system"], e["action"], e["idempotency_key"]) for e in effects if e["idempotency_key"])
    assert max(keyed.values(), default=1) == 1, keyed


def crm_statuses(live: Any, contact_id: str) -> list[str | None]:
    return [
        e["payload"].get("status")
        for e in live.effects(system="crm", action="update_contact", resource_id=contact_id)
    ]


def one(db: Any, query: str, *args: Any) -> Any:
    with db.cursor() as cur:
        cur.execute(query, args)
        (row,) = cur.fetchall()
    return row[0] if len(row) == 1 else row


def ran(states: dict[str, str]) -> int:
    return sum(state not in ("skipped", "") for state in states.values())


def test_rest_started_a_follow_up_after_a_wait_then_a_reply_books_a_meeting_through_a_child_run(
    live: Any, business_db: Any
) -> None:
    af = live.airflow
    t0 = time.monotonic()
    contact = seed_contact(live, arabic=True)
    number = contact["whatsapp"]
    request_id = f"osl-{uuid.uuid4().hex[:10]}"
    wf, run_id = f"{DAG}:{request_id}", f"e2e__{request_id}"
    conf = {"request_id": request_id, "contact_id": contact["contact_id"], **WHOLE_DAY}

    # Bad input is refused before a run exists, naming the field.
    bad = af.trigger(DAG, f"{run_id}-bad", {**conf, "channels": ["fax"]})
    assert bad.status_code == 400 and "channels" in bad.text, bad.text

    resp = af.trigger(DAG, run_id, {**conf, "max_messages": 2, "follow_up_after_hours": 0.006})
    assert resp.status_code == 200, resp.text
    first = nth_sent(live, "whatsapp", number, 1)
    # The follow-up's wait holds nothing while it lasts (deferred), then message 2 goes out.
    af.wait_task_state(DAG, run_id, "message_2.wait", ("deferred",), timeout=120)
    second = nth_sent(live, "whatsapp", number, 2, timeout=300)
    assert first["payload"]["template"] == "partnership_intro.opening.ar"
    assert second["payload"]["template"] == "partnership_intro.last_note.ar"
    assert first["payload"]["body"].startswith("مرحباً ليلى")

    # The reply window's wait: the contact asks for a meeting (in their dialect).
    af.wait_task_state(DAG, run_id, "message_3.wait", ("deferred",), timeout=120)
    replied_at = time.monotonic()
    act(live, second, "reply", "حلو، ودي نسوي مكالمة الأسبوع الجاي، متى يناسبكم؟")

    # meeting_booking runs as the sequence's child: times proposed on WhatsApp, in Arabic; option 2 taken.
    child_run = f"child__{wf}__meeting"
    child_wf = f"{CHILD_DAG}:{request_id}.meeting"
    proposal = nth_sent(live, "whatsapp", number, 3, timeout=240)
    proposed_after = time.monotonic() - replied_at
    assert proposal["payload"]["template"] == "meeting_proposal.ar"
    af.wait_task_state(CHILD_DAG, child_run, "round_1.answer", ("deferred",), timeout=120)
    act(live, proposal, "reply", "الخيار ٢")
    assert af.wait_run(CHILD_DAG, child_run, timeout=300) == "success"
    assert af.wait_run(DAG, run_id, timeout=300) == "success"
    wall = time.monotonic() - t0

    for workflow_id in (wf, child_wf):
        status_of = "SELECT status FROM saga_workflows WHERE workflow_id = %s"
        assert one(business_db, status_of, workflow_id) == "completed"
    assert one(
        business_db,
        "SELECT status, outcome, messages_sent, language, dialect, meeting_workflow_id"
        " FROM outreach_sequences WHERE workflow_id = %s",
        wf,
    ) == ("meeting", "meeting_booked", 2, "ar", "gulf", child_wf)
    intent = one(business_db, "SELECT reply->>'intent' FROM outreach_sequences WHERE workflow_id = %s", wf)
    assert intent == "meeting_request"
    status, booking_id, slot = one(
        business_db,
        "SELECT status, booking_id, agreed_slot FROM meeting_bookings WHERE workflow_id = %s",
        child_wf,
    )
    assert status == "invited"
    booking = live.sandbox("GET", f"/calcom/v1/bookings/{booking_id}", headers=CRM)
    assert (booking["status"], booking["username"], booking["attendee_email"]) == (
        "accepted",
        "layla-haddad",
        contact["email"],
    )
    assert datetime.fromisoformat(booking["slot_start"].replace("Z", "+00:00")) == slot

    effects = effects_of(live, contact)
    assert counts(effects) == Counter(
        {
            ("crm", "create_contact"): 1,  # the test's seed
            ("crm", "update_contact"): 2,  # in_sequence, meeting_booked
            ("whatsapp", "open_conversation"): 2,  # the sequence's, the meeting's
            ("whatsapp", "send"): 4,  # two messages, the proposal, the confirmation
            ("calcom", "create_booking"): 1,
            ("email", "send"): 1,  # the invitation (the organizer's goes to the owner)
        }
    ), counts(effects)
    each_once(effects)
    assert crm_statuses(live, contact["contact_id"]) == ["in_sequence", "meeting_booked"]
    states, child_states = af.task_states(DAG, run_id), af.task_states(CHILD_DAG, child_run)
    assert states["meeting_outcome"] == "success" and states["hand_over"] == "skipped"
    print(
        f"\noutreach_sequence (REST, 2 messages, a reply -> meeting): wall {wall:.1f} s; reply -> child's"
        f" proposal sent {proposed_after:.1f} s; tasks: parent {len(states)} ({ran(states)} ran),"
        f" child {len(child_states)} ({ran(child_states)} ran)"
    )


def test_crm_started_an_opt_out_stops_it_at_once_and_compensation_tells_the_crm(
    live: Any, business_db: Any
) -> None:
    af = live.airflow
    t0 = time.monotonic()
    contact = seed_contact(live, arabic=False)
    request_id = f"osl-{uuid.uuid4().hex[:10]}"
    wf = f"{DAG}:{request_id}"
    event_id = f"enrol-{request_id}"
    run_id = f"crm__{event_id}"
    event = {
        "event_id": event_id,
        "workflow": DAG,
        "payload": {
            "request_id": request_id,
            "contact_id": contact["contact_id"],
            "channels": ["email", "whatsapp"],
            "max_messages": 3,
            **WHOLE_DAY,
        },
    }
    first = live.sandbox("POST", "/_sandbox/crm/events", json=event)
    # Accepted (the ingress starts the run); a redelivery starts nothing.
    assert [d["status_code"] for d in first["deliveries"]] in ([201], [202]), first
    again = live.sandbox("POST", "/_sandbox/crm/events", json=event)
    assert [d["status_code"] for d in again["deliveries"]] == [200], again
    af.wait_started(DAG, run_id)

    message = nth_sent(live, "email", contact["email"], 1)
    assert message["payload"]["body"].endswith("reply STOP or use the unsubscribe link.")
    # Message 2 waits three days (the default follow-up), holding nothing; the contact opts out meanwhile.
    af.wait_task_state(DAG, run_id, "message_2.wait", ("deferred",), timeout=120)
    acted = time.monotonic()
    act(live, message, "opt_out")
    assert af.wait_run(DAG, run_id, timeout=240) == "failed"
    stopped_after = time.monotonic() - acted
    assert af.wait_run("saga_compensation", f"compensate__{wf}", timeout=300) == "success"
    wall = time.monotonic() - t0

    assert one(business_db, "SELECT status, reason FROM saga_workflows WHERE workflow_id = %s", wf) == (
        "compensated",
        "the recipient opted out on email",
    )
    assert one(business_db, "SELECT status, outcome FROM outreach_sequences WHERE workflow_id = %s", wf) == (
        "stopped",
        "opted_out",
    )
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT step_no, status FROM outreach_sends WHERE workflow_id = %s ORDER BY step_no", (wf,)
        )
        assert cur.fetchall() == [(1, "sent"), (2, "cancelled")]
    # The CRM: enrolled, consent withdrawn for the channel at once, then told the sequence stopped and why.
    updates = [
        e["payload"]
        for e in live.effects(system="crm", action="update_contact", resource_id=contact["contact_id"])
    ]
    assert [u["status"] for u in updates] == ["in_sequence", "opted_out", "opted_out"]
    assert updates[1]["consent"] == {"email": False}
    assert updates[2]["outreach_status"] == "stopped"
    assert (
        live.sandbox("GET", f"/crm/v1/contacts/{contact['contact_id']}", headers=CRM)["consent"]["email"]
        is False
    )
    effects = effects_of(live, contact)
    assert counts(effects)[("email", "send")] == 1 and counts(effects)[("whatsapp", "send")] == 0
    each_once(effects)
    states = af.task_states(DAG, run_id)
    assert states["stopped"] == "failed" and states["message_2.due"] == "success"
    print(
        f"\noutreach_sequence (CRM webhook, opt-out after message 1): wall {wall:.1f} s (with compensation);"
        f" opt-out -> run failed {stopped_after:.1f} s; tasks {len(states)} ({ran(states)} ran)"
    )
