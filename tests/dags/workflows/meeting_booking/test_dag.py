"""meeting_booking through dag.test(): the happy path (a counter-proposal the calendar cannot take, new times
near it, a pick, the booking once, the invitations), and every bad ending (declined, no answer in time, a
slot taken meanwhile then a failure after the booking: the booking cancelled), each compensated the way
production does it, twice, the second time changing nothing; checked against the business tables, the
toolkit's ledger and the sandbox's effect log (and Cal.com's own state).

The attendee answers through the sandbox's control route and the real webhook app (signed, into the inbox).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support.dagtest import Do, ScriptDriver, deliver
from tests.support.workflow_runs import (
    compensate,
    dag_under_test,
    load_dag,
    one,
    record_rest_calls,
    rows,
    task_states,
    workflow_status,
)

pytestmark = pytest.mark.timeout(600)

DAG_ID = "meeting_booking"
ORGANIZER = "layla-haddad"
ORGANIZER_EMAIL = "layla.haddad@sales.execution-plane.example"
ATTENDEE = "ana@cedar.example"
PHONE = "+966501234567"
LONG = 0.05  # hours: three minutes, longer than any test takes to answer
AUTH = {"Authorization": "Bearer t"}


@pytest.fixture(scope="module")
def dag() -> Iterator[Any]:
    with dag_under_test(DAG_ID) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def compensation_dag() -> Any:
    return load_dag("saga_compensation")


@pytest.fixture
def requested(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    return record_rest_calls(monkeypatch)


def new_request() -> str:
    return f"mtg-{uuid.uuid4().hex[:10]}"


def run(dag: Any, request_id: str, script: list[Any], **params: Any) -> tuple[Any, str]:
    driver = ScriptDriver(DAG_ID, script, timeout_s=240, request_id=request_id).start()
    try:
        dr = dag.test(
            run_conf={
                "request_id": request_id,
                "organizer": ORGANIZER,
                "organizer_email": ORGANIZER_EMAIL,
                "organizer_name": "Layla Haddad",
                "attendee_name": "Ana Almeida",
                "attendee_email": ATTENDEE,
                "attendee_time_zone": "Asia/Riyadh",
                "title": "Cedar x Execution Plane",
                "earliest_notice_hours": 0,
                "response_timeout_hours": LONG,
                **params,
            }
        )
    finally:
        driver.stop()
    assert not driver.errors, driver.errors
    return dr, f"{DAG_ID}:{request_id}"


def sandbox_call(sandbox: Any, method: str, path: str, body: Any = None) -> Any:
    resp = httpx.request(method, f"{sandbox.url}{path}", json=body, headers=AUTH, timeout=10)
    resp.raise_for_status()
    return resp.json()


def proposal_of(sandbox: Any, db_url: str, wf: str, round_no: int) -> tuple[str, list[str]]:
    """(provider message id, options) of round ``round_no``'s proposal."""
    import psycopg2

    conn = psycopg2.connect(db_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT message_id, options FROM meeting_rounds WHERE workflow_id = %s AND round = %s",
                (wf, round_no),
            )
            message_id, options = cur.fetchone()
    finally:
        conn.close()
    (sent,) = [e for e in sandbox.effects(action="send") if e["payload"]["message_id"] == message_id]
    return str(sent["resource_id"]), list(options)


def answers(
    sandbox: Any,
    db_url: str,
    wf: str,
    round_no: int,
    text: str,
    before: Callable[[list[str]], Any] | None = None,
) -> Do:
    """Once round ``round_no`` waits: ``before(options)``, then the attendee replies ``text`` to it."""

    def act() -> None:
        provider_id, options = proposal_of(sandbox, db_url, wf, round_no)
        if before is not None:
            before(options)
        event = sandbox.post(f"/_sandbox/messages/{provider_id}/reply?deliver=false", {"text": text})["event"]
        deliver("events/messaging", event)

    return Do(f"round_{round_no}.answer", act, ("running", "deferred"))


def counts(sandbox: Any) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in sandbox.effects())


def rounds(db: Any, wf: str) -> list[tuple[Any, ...]]:
    return rows(
        db,
        "SELECT round, outcome, options, agreed_slot, reply->>'kind' FROM meeting_rounds"
        " WHERE workflow_id = %s ORDER BY round",
        wf,
    )


def meeting(db: Any, wf: str) -> tuple[Any, ...]:
    found: tuple[Any, ...] = one(
        db, "SELECT status, agreed_slot, booking_id, reason FROM meeting_bookings WHERE workflow_id = %s", wf
    )
    return found


def compensated_twice(
    db: Any, sandbox: Any, compensation_dag: Any, requested: list[dict[str, Any]], wf: str, bad_ending: str
) -> Counter[tuple[str, str]]:
    """Compensate as production does (the run's own ask; the reconciler's for a step that failed after its
    retries): every undo once; again: nothing changes. Returns the undos' outside effects."""
    asks = [c for c in requested if c.get("workflow_id") == wf]
    conf = (
        {k: asks[0][k] for k in ("reason", "bad_ending", "source")}
        if asks
        else {
            "reason": "failed after retries: round_2.invitations",
            "bad_ending": "failed",
            "source": "reconciler",
        }
    )
    assert conf["bad_ending"] == bad_ending, conf
    before = counts(sandbox)
    assert compensate(compensation_dag, wf, **conf).state == "success"
    assert (workflow_status(wf) or ("never",))[0] == "compensated"
    steps = rows(db, "SELECT step, status, compensation_action FROM saga_steps WHERE workflow_id = %s", wf)
    assert [s for s, status, action in steps if action and status != "compensated"] == []
    undone = counts(sandbox) - before
    effects, tables = sandbox.effects(), (meeting(db, wf), rounds(db, wf), steps)
    assert compensate(compensation_dag, wf, **conf).state == "success"
    assert sandbox.effects() == effects
    again = rows(db, "SELECT step, status, compensation_action FROM saga_steps WHERE workflow_id = %s", wf)
    assert (meeting(db, wf), rounds(db, wf), again) == tables
    return undone


def each_effect_once(sandbox: Any) -> None:
    keys = Counter(
        (e["system"], e["action"], e["idempotency_key"]) for e in sandbox.effects() if e["idempotency_key"]
    )
    assert all(n == 1 for n in keys.values()), keys


# ----------------------------------------------------------------------------- the happy path
def test_a_counter_proposal_then_a_pick_books_once_and_invites_both(
    dag: Any, sandbox: Any, business_db: Any, business_db_url: str, requested: list[dict[str, Any]]
) -> None:
    request_id = new_request()
    wf = f"{DAG_ID}:{request_id}"
    script = [
        # Not a slot at all (a quarter past): the calendar cannot take it, new times near it follow.
        answers(sandbox, business_db_url, wf, 1, "الخميس الساعة 3:15 مساءً أفضل"),
        answers(sandbox, business_db_url, wf, 2, "الخيار ٢"),
    ]
    dr, _ = run(dag, request_id, script, channel="whatsapp", attendee_phone=PHONE, attendee_language="ar")

    assert dr.state == "success" and workflow_status(wf) == ("completed", None)
    assert requested == []
    first, second = rounds(business_db, wf)
    assert (first[1], first[4]) == ("counter_unavailable", "counter")
    assert (second[1], second[4]) == ("agreed", "pick")
    assert not set(first[2]) & set(second[2])
    agreed = datetime.fromisoformat(second[2][1])
    assert second[3] == agreed
    status, slot, booking_id, _reason = meeting(business_db, wf)
    assert (status, slot) == ("invited", agreed) and booking_id

    booking = sandbox_call(sandbox, "GET", f"/calcom/v1/bookings/{booking_id}")
    assert (booking["status"], booking["username"], booking["attendee_email"]) == (
        "accepted",
        ORGANIZER,
        ATTENDEE,
    )
    assert datetime.fromisoformat(booking["slot_start"].replace("Z", "+00:00")) == agreed
    assert counts(sandbox) == Counter(
        {
            ("whatsapp", "open_conversation"): 1,
            ("whatsapp", "send"): 3,  # two proposals, the confirmation
            ("calcom", "create_booking"): 1,
            ("email", "send"): 2,  # the attendee's invitation, the organizer's
        }
    )
    each_effect_once(sandbox)
    proposals = [e["payload"]["body"] for e in sandbox.effects(system="whatsapp", action="send")]
    assert proposals[0].startswith("مرحباً Ana Almeida، شكراً لاهتمامك.")
    assert (
        "للأسف الموعد الذي اقترحته غير متاح." in proposals[1]
        and "(المواعيد بتوقيت Asia/Riyadh)" in proposals[1]
    )
    assert proposals[2].startswith("تم التأكيد يا Ana Almeida")
    invitations = {e["payload"]["to"]: e["payload"]["subject"] for e in sandbox.effects(system="email")}
    assert invitations == {
        ATTENDEE: "دعوة: Cedar x Execution Plane",
        ORGANIZER_EMAIL: "Invitation: Cedar x Execution Plane",
    }
    states = task_states(dr)
    assert states["round_1.book"] == "skipped" and states["round_2.invitations"] == "success"
    assert states["round_1.ended"] == states["round_2.ended"] == states["round_3.propose"] == "skipped"


# ----------------------------------------------------------------------------- bad endings
def test_a_decline_ends_it_rejected_nothing_booked(
    dag: Any,
    compensation_dag: Any,
    sandbox: Any,
    business_db: Any,
    business_db_url: str,
    requested: list[dict[str, Any]],
) -> None:
    request_id = new_request()
    wf = f"{DAG_ID}:{request_id}"
    dr, _ = run(dag, request_id, [answers(sandbox, business_db_url, wf, 1, "Not interested anymore, thanks")])

    assert dr.state == "failed"
    assert workflow_status(wf) == ("rejected", "the attendee declined in round 1")
    assert meeting(business_db, wf)[0] == "declined"
    assert [(r[1], r[4]) for r in rounds(business_db, wf)] == [("declined", "decline")]
    assert counts(sandbox)[("calcom", "create_booking")] == 0

    undone = compensated_twice(business_db, sandbox, compensation_dag, requested, wf, "rejected")
    assert undone == Counter()
    assert meeting(business_db, wf)[0] == "declined"


def test_no_answer_in_time_ends_it_expired(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, requested: list[dict[str, Any]]
) -> None:
    request_id = new_request()
    dr, wf = run(dag, request_id, [], response_timeout_hours=0.0003)

    assert dr.state == "failed"
    assert workflow_status(wf) == ("expired", "no answer to the times proposed in round 1")
    assert meeting(business_db, wf)[0] == "expired"
    assert [r[1] for r in rounds(business_db, wf)] == ["expired"]
    assert counts(sandbox) == Counter({("email", "open_conversation"): 1, ("email", "send"): 1})

    assert compensated_twice(business_db, sandbox, compensation_dag, requested, wf, "expired") == Counter()


def test_a_taken_slot_opens_a_round_and_a_booking_whose_meeting_fails_is_cancelled(
    dag: Any,
    compensation_dag: Any,
    sandbox: Any,
    business_db: Any,
    business_db_url: str,
    requested: list[dict[str, Any]],
) -> None:
    request_id = new_request()
    wf = f"{DAG_ID}:{request_id}"

    def someone_takes(options: list[str]) -> None:
        body = {
            "slot_start": options[0],
            "attendee_email": "other@x.example",
            "title": "Other",
            "username": ORGANIZER,
        }
        sandbox_call(sandbox, "POST", "/calcom/v1/bookings", body)

    def email_goes_down(_options: list[str]) -> None:
        sandbox.post(
            "/_sandbox/faults",
            {"system": "email", "action": "send", "mode": "error", "status": 503, "count": 100},
        )

    script = [
        answers(sandbox, business_db_url, wf, 1, "1", before=someone_takes),
        answers(sandbox, business_db_url, wf, 2, "1", before=email_goes_down),
    ]
    dr, _ = run(dag, request_id, script, max_rounds=2)
    httpx.delete(f"{sandbox.url}/_sandbox/faults", timeout=10).raise_for_status()

    assert dr.state == "failed" and task_states(dr)["round_2.invitations"] == "failed"
    first, second = rounds(business_db, wf)
    assert (first[1], second[1]) == ("slot_taken", "agreed")
    status, slot, booking_id, _ = meeting(business_db, wf)
    assert status == "booked" and slot == datetime.fromisoformat(second[2][0])
    assert sandbox_call(sandbox, "GET", f"/calcom/v1/bookings/{booking_id}")["status"] == "accepted"
    assert requested == []  # a step failed: the failure callback (or the reconciler) asks for compensation

    undone = compensated_twice(business_db, sandbox, compensation_dag, requested, wf, "failed")
    assert undone == Counter({("calcom", "cancel_booking"): 1})
    assert sandbox_call(sandbox, "GET", f"/calcom/v1/bookings/{booking_id}")["status"] == "cancelled"
    assert meeting(business_db, wf)[0] == "cancelled"
    # The slot is the organizer's again.
    day = slot.date().isoformat()
    free = sandbox_call(sandbox, "GET", f"/calcom/v1/slots?start={day}&days=1&username={ORGANIZER}")["slots"]
    assert slot.isoformat().replace("+00:00", "Z") in {s["start"] for s in free}
