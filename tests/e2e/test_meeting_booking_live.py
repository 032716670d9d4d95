"""meeting_booking on a running Airflow, through public interfaces only: started by the REST API and by the
CRM's signed webhook; the attendee answers through the sandbox's messaging controls (their signed webhooks
reach the live /webhooks/events/messaging); someone else's booking and an email outage through the sandbox's
Cal.com API and fault controls. Checked against the sandbox's effect log (this attendee's only), Cal.com's
state and the business tables.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

pytestmark = [pytest.mark.live, pytest.mark.timeout(900)]

DAG = "meeting_booking"
AUTH = {"Authorization": "Bearer e2e"}
ORGANIZER = "greta-fischer"
ORGANIZER_EMAIL = "greta.fischer@sales.execution-plane.example"


def request(request_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "organizer": ORGANIZER,
        "organizer_email": ORGANIZER_EMAIL,
        "organizer_name": "Greta Fischer",
        "attendee_name": "Ana Almeida",
        "attendee_email": f"ana.{request_id}@cedar.example",
        "attendee_time_zone": "America/New_York",
        "title": "Cedar x Execution Plane",
        **changes,
    }


def nth_sent(live: Any, address: str, n: int, timeout: float = 240) -> dict[str, Any]:
    """The ``n``-th email sent to ``address``, once it is sent."""

    def sent() -> list[dict[str, Any]] | None:
        found = [e for e in live.effects(system="email", action="send") if e["payload"]["to"] == address]
        return found if len(found) >= n else None

    found: list[dict[str, Any]] = live.airflow.wait(f"email {n} to {address}", sent, timeout, interval=0.5)
    return found[n - 1]


def answer(live: Any, run_id: str, round_no: int, proposal: dict[str, Any], text: str) -> None:
    """Once round ``round_no`` waits for it, the attendee replies ``text`` to its proposal."""
    live.airflow.wait_task_state(DAG, run_id, f"round_{round_no}.answer", ("deferred",), timeout=120)
    body = {"text": text}
    result = live.sandbox("POST", f"/_sandbox/messages/{proposal['resource_id']}/reply", json=body)
    assert [d["status_code"] for d in result["deliveries"]] == [202], result


def mine(live: Any, attendee: str) -> list[dict[str, Any]]:
    """This attendee's effects: what was sent to them, their conversation, their booking and its undo."""
    named = [
        e
        for e in live.effects()
        if attendee in (e["payload"].get(k) for k in ("to", "address", "attendee_email"))
    ]
    bookings = {e["resource_id"] for e in named if e["action"] == "create_booking"}
    return named + [e for e in live.effects(action="cancel_booking") if e["resource_id"] in bookings]


def counts(effects: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in effects)


def each_once(effects: list[dict[str, Any]]) -> None:
    keyed = Counter((e["system"], e["action"], e["idempotency_key"]) for e in effects if e["idempotency_key"])
    assert max(keyed.values(), default=1) == 1, keyed


def rows(db: Any, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return list(cur.fetchall())


def ran(states: dict[str, str]) -> int:
    return sum(state not in ("skipped", "") for state in states.values())


def test_rest_started_a_counter_proposal_then_a_pick_is_booked_once_and_both_invited(
    live: Any, business_db: Any
) -> None:
    af = live.airflow
    t0 = time.monotonic()
    request_id = f"mbl-{uuid.uuid4().hex[:10]}"
    wf, run_id = f"{DAG}:{request_id}", f"e2e__{request_id}"
    conf = request(request_id)
    attendee = conf["attendee_email"]

    bad = af.trigger(DAG, f"{run_id}-bad", {**conf, "channel": "fax"})
    assert bad.status_code == 400 and "channel" in bad.text, bad.text
    resp = af.trigger(DAG, run_id, conf)
    assert resp.status_code == 200, resp.text

    # A time that is not a slot at all (a quarter past): the calendar cannot take it, times near it follow.
    first = nth_sent(live, attendee, 1)
    answer(live, run_id, 1, first, "Thursday at 3:15pm works better for me")
    second = nth_sent(live, attendee, 2)
    assert "Unfortunately the time you suggested is not free." in second["payload"]["body"], second
    answered = time.monotonic()
    answer(live, run_id, 2, second, "Option 2 please")
    assert af.wait_run(DAG, run_id, timeout=240) == "success"
    to_the_end = time.monotonic() - answered
    wall = time.monotonic() - t0

    (meeting,) = rows(
        business_db, "SELECT status, agreed_slot, booking_id FROM meeting_bookings WHERE workflow_id = %s", wf
    )
    status, slot, booking_id = meeting
    round_rows = rows(
        business_db,
        "SELECT round, outcome, reply->>'kind', options FROM meeting_rounds WHERE workflow_id = %s"
        " ORDER BY round",
        wf,
    )
    assert [r[:3] for r in round_rows] == [(1, "counter_unavailable", "counter"), (2, "agreed", "pick")]
    assert status == "invited" and slot == datetime.fromisoformat(round_rows[1][3][1])
    booking = live.sandbox("GET", f"/calcom/v1/bookings/{booking_id}", headers=AUTH)
    assert (booking["status"], booking["username"], booking["attendee_email"]) == (
        "accepted",
        ORGANIZER,
        attendee,
    )
    workflow = rows(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf)
    assert workflow == [("completed",)]

    effects = mine(live, attendee)
    # The conversation, two proposals and the invitation to the attendee; the booking.
    assert counts(effects) == Counter(
        {("email", "open_conversation"): 1, ("email", "send"): 3, ("calcom", "create_booking"): 1}
    ), counts(effects)
    each_once(effects)
    invitation = nth_sent(live, attendee, 3)
    assert invitation["payload"]["subject"] == "Invitation: Cedar x Execution Plane"
    assert [
        e
        for e in live.effects(system="email", action="send")
        if e["payload"]["to"] == ORGANIZER_EMAIL and booking_id in e["payload"]["body"]
    ], "the organizer's invitation"
    states = af.task_states(DAG, run_id)
    assert states["round_2.invitations"] == "success" and states["round_3.propose"] == "skipped"
    print(
        f"\nmeeting_booking (REST, counter then pick): wall {wall:.1f} s;"
        f" pick -> run success {to_the_end:.1f} s; tasks {len(states)} ({ran(states)} ran)"
    )


def test_crm_started_a_booking_whose_invitations_fail_is_cancelled_by_compensation(
    live: Any, business_db: Any
) -> None:
    af = live.airflow
    t0 = time.monotonic()
    request_id = f"mbl-{uuid.uuid4().hex[:10]}"
    wf = f"{DAG}:{request_id}"
    event_id = f"meet-{request_id}"
    run_id = f"crm__{event_id}"
    conf = request(request_id, max_rounds=2)
    attendee = conf["attendee_email"]
    event = {"event_id": event_id, "workflow": DAG, "payload": conf}
    started = live.sandbox("POST", "/_sandbox/crm/events", json=event)
    assert [d["status_code"] for d in started["deliveries"]] in ([201], [202]), started
    af.wait_started(DAG, run_id)

    proposal = nth_sent(live, attendee, 1)
    # Email goes down for good after the proposal: the invitations cannot go out, through every retry.
    fault = {"system": "email", "action": "send", "mode": "error", "status": 503, "count": 100}
    live.sandbox("POST", "/_sandbox/faults", json=fault)
    try:
        answer(live, run_id, 1, proposal, "1")
        assert af.wait_run(DAG, run_id, timeout=420) == "failed"
        failed_at = time.monotonic() - t0
        # Started by the failure callback (the dag-processor), or by the reconciler if that callback is lost.
        af.wait_started("saga_compensation", f"compensate__{wf}", timeout=300)
        assert af.wait_run("saga_compensation", f"compensate__{wf}", timeout=300) == "success"
    finally:
        live.sandbox("DELETE", "/_sandbox/faults")
    wall = time.monotonic() - t0

    ((status, slot, booking_id),) = rows(
        business_db, "SELECT status, agreed_slot, booking_id FROM meeting_bookings WHERE workflow_id = %s", wf
    )
    assert status == "cancelled" and booking_id
    assert rows(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == [
        ("compensated",)
    ]
    booking = live.sandbox("GET", f"/calcom/v1/bookings/{booking_id}", headers=AUTH)
    assert booking["status"] == "cancelled"
    # The organizer's slot is free again.
    day = slot.date().isoformat()
    free = live.sandbox(
        "GET", "/calcom/v1/slots", params={"start": day, "days": 1, "username": ORGANIZER}, headers=AUTH
    )["slots"]
    assert slot.isoformat().replace("+00:00", "Z") in {s["start"] for s in free}
    effects = mine(live, attendee)
    assert counts(effects)[("calcom", "create_booking")] == 1
    assert counts(effects)[("calcom", "cancel_booking")] == 1
    assert counts(effects)[("email", "send")] == 1  # the proposal; no invitation got through
    states = af.task_states(DAG, run_id)
    assert states["round_1.invitations"] == "failed"
    print(
        f"\nmeeting_booking (CRM webhook, invitations failing): wall {wall:.1f} s (with compensation);"
        f" run failed after {failed_at:.1f} s (3 retries); tasks {len(states)} ({ran(states)} ran)"
    )
