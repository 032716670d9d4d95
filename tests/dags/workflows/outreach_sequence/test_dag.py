"""outreach_sequence through dag.test(): the happy path (no reply: every message sent once, a channel that
refuses replaced by the next), a reply handed to the owner, a meeting request (meeting_booking as a child),
and every bad ending (an opt-out, consent withdrawn, every channel refusing, a step failing after its
retries), each compensated the way production does it, twice, the second time changing nothing; checked
against the business tables, the toolkit's ledger and the sandbox's effect log.

The recipient acts through the sandbox's control route and the real webhook app (signed, into the inbox).
Follow-ups come seconds apart (``follow_up_after_hours``) and the send window is the whole day, in a country
and time zone where now is a working day (the window and weekend rules: tests/include/domain/).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.dagtest import Do, ScriptDriver, deliver
from tests.support.workflow_runs import (
    compensate,
    dag_under_test,
    load_dag,
    one,
    rows,
    task_states,
    workflow_status,
)

pytestmark = pytest.mark.timeout(600)

DAG_ID = "outreach_sequence"
GULF = "ابي اعرف الحين كم السعر، وايد مهتمين بالخدمة عندكم"
OWNER = "layla.haddad@sales.execution-plane.example"
QUICK = 0.0003  # hours: about a second
LONG = 0.05  # hours: three minutes, longer than any test waits for a reply
ASKS_FOR_A_MEETING = "Sounds interesting, can we set up a call next week?"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def dag() -> Iterator[Any]:
    with dag_under_test(DAG_ID) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def compensation_dag() -> Any:
    return load_dag("saga_compensation")


class Airflow:
    """What the run asks Airflow's REST API for (no API server under dag.test): the meeting child's start,
    compensation starts (a second is a 409) and run notes."""

    calls: list[dict[str, Any]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any], note: str | None = None) -> bool:
        fresh = not self.of("start", run_id=run_id)
        self.calls.append({"kind": "start", "dag_id": dag_id, "run_id": run_id, "conf": conf})
        return fresh

    def end_run(self, dag_id: str, run_id: str) -> bool:
        self.calls.append({"kind": "end_run", "run_id": run_id})
        return True

    def set_note(self, dag_id: str, run_id: str, note: str) -> None:
        self.calls.append({"kind": "note", "run_id": run_id, "note": note})

    @classmethod
    def of(cls, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [c for c in cls.calls if c["kind"] == kind and all(c.get(k) == v for k, v in match.items())]


@pytest.fixture
def airflow(monkeypatch: pytest.MonkeyPatch) -> type[Airflow]:
    Airflow.calls = []

    def start(workflow_id: str, *, reason: str, bad_ending: str, source: str, api: Any = None) -> bool:
        fresh = not Airflow.of("compensation", workflow_id=workflow_id)
        Airflow.calls.append(
            {"kind": "compensation", "workflow_id": workflow_id, "reason": reason, "bad_ending": bad_ending}
        )
        return fresh

    for module in ("execution_plane.saga.airflow_api", "execution_plane.saga.outcomes"):
        monkeypatch.setattr(f"{module}.AirflowApi", Airflow)
        monkeypatch.setattr(f"{module}.start_compensation", start)
    monkeypatch.setattr("execution_plane.saga.callbacks.start_compensation", start)
    return Airflow


# ----------------------------------------------------------------------------- the contact and the run
def reachable_now(arabic: bool) -> tuple[str, str]:
    """A (country, time zone) where the next quarter of an hour is a working day (the whole day is the
    window here): the weekend rule itself is tested on fixed dates."""
    from include.domain.quiet_hours import SendWindow, is_allowed

    whole_day = SendWindow("00:00", "24:00")
    countries = ("SA", "AE", "BN") if arabic else ("US", "SA", "BN")
    zones = ("Asia/Riyadh", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago")
    now = datetime.now(UTC)
    for country in countries:
        for zone in zones:
            if all(is_allowed(now + timedelta(minutes=m), zone, country, whole_day) for m in range(0, 16, 5)):
                return country, zone
    raise AssertionError("no working day anywhere in the next quarter of an hour")


def seed_contact(sandbox: Any, *, arabic: bool, **fields: Any) -> dict[str, Any]:
    contact_id = f"C-{uuid.uuid4().hex[:8]}"
    country, zone = reachable_now(arabic)
    contact = {
        "contact_id": contact_id,
        "first_name": "ليلى" if arabic else "Ana",
        "last_name": "الحداد" if arabic else "Almeida",
        "company": "Cedar Trading",
        "email": f"{contact_id.lower()}@cedar.example",
        "whatsapp": "+966501234567",
        "phone": "+966501234567",
        "country": country,
        "time_zone": zone,
        "language": "ar" if arabic else "en",
        "preferred_channel": "whatsapp" if arabic else "email",
        "last_message": GULF if arabic else "We would like to know more about pricing.",
        "consent": {"email": True, "whatsapp": True, "sms": False},
        "owner_name": "Layla Haddad",
        "owner_email": OWNER,
        "owner_calendar": "layla-haddad",
        **fields,
    }
    sandbox.post("/crm/v1/contacts", contact, headers={"Authorization": "Bearer t"})
    return contact


def new_request() -> str:
    return f"out-{uuid.uuid4().hex[:10]}"


def run(dag: Any, request_id: str, script: list[Any], contact_id: str, **params: Any) -> tuple[Any, str]:
    driver = ScriptDriver(DAG_ID, script, timeout_s=240, request_id=request_id).start()
    try:
        dr = dag.test(
            run_conf={
                "request_id": request_id,
                "contact_id": contact_id,
                "send_window_start": "00:00",
                "send_window_end": "24:00",
                "follow_up_after_hours": LONG,
                "reply_window_hours": LONG,
                **params,
            }
        )
    finally:
        driver.stop()
    assert not driver.errors, driver.errors
    return dr, f"{DAG_ID}:{request_id}"


def acts(
    sandbox: Any, business_db_url: str, wf: str, step_no: int, action: str, text: str | None = None
) -> Callable[[], None]:
    """The recipient acts on message ``step_no`` of ``wf``: the provider's webhook goes through the real
    webhook app (signed) into the inbox."""

    def act() -> None:
        import psycopg2

        conn = psycopg2.connect(business_db_url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT provider_message_id FROM outreach_sends WHERE workflow_id = %s AND step_no = %s"
                    " AND status = 'sent'",
                    (wf, step_no),
                )
                (provider_id,) = cur.fetchone()
        finally:
            conn.close()
        body = {"text": text} if text else None
        event = sandbox.post(f"/_sandbox/messages/{provider_id}/{action}?deliver=false", body)["event"]
        deliver("events/messaging", event)

    return act


def waiting_for(step_no: int, action: Callable[[], Any]) -> Do:
    """``action`` once the wait before message ``step_no`` is under way (the message before it went out)."""
    return Do(f"message_{step_no}.wait", action, ("running", "deferred"))


# ----------------------------------------------------------------------------- reading the results
def counts(sandbox: Any) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in sandbox.effects())


def sends(db: Any, wf: str) -> list[tuple[Any, ...]]:
    return rows(
        db,
        "SELECT step_no, status, channel, template, attempts, consent, local_time IS NOT NULL, cancel_reason"
        " FROM outreach_sends WHERE workflow_id = %s ORDER BY step_no",
        wf,
    )


def sequence(db: Any, wf: str) -> tuple[Any, ...]:
    found: tuple[Any, ...] = one(
        db,
        "SELECT status, outcome, reason, messages_sent, language, dialect, channels FROM outreach_sequences"
        " WHERE workflow_id = %s",
        wf,
    )
    return found


def crm_updates(sandbox: Any, contact_id: str) -> list[dict[str, Any]]:
    return [
        e["payload"] for e in sandbox.effects(system="crm", action="update_contact", resource_id=contact_id)
    ]


def compensated_twice(db: Any, sandbox: Any, compensation_dag: Any, wf: str, bad_ending: str) -> Counter[Any]:
    """Compensate as production does (the run's own ask; the reconciler's for a step that failed after its
    retries): every recorded undo done once; again: nothing changes. Returns the undos' outside effects."""
    asks = Airflow.of("compensation", workflow_id=wf)
    reason = asks[0]["reason"] if asks else "failed after retries"
    assert (asks[0]["bad_ending"] if asks else "failed") == bad_ending, asks
    before = counts(sandbox)
    source = "end_badly" if asks else "reconciler"
    assert (
        compensate(compensation_dag, wf, reason=reason, bad_ending=bad_ending, source=source).state
        == "success"
    )
    assert (workflow_status(wf) or ("never",))[0] == "compensated"
    steps = rows(db, "SELECT step, status, compensation_action FROM saga_steps WHERE workflow_id = %s", wf)
    assert [s for s, status, action in steps if action and status != "compensated"] == []
    undone = counts(sandbox) - before

    effects = sandbox.effects()
    tables = (sequence(db, wf), sends(db, wf), steps)
    assert (
        compensate(compensation_dag, wf, reason=reason, bad_ending=bad_ending, source=source).state
        == "success"
    )
    assert sandbox.effects() == effects
    assert (
        sequence(db, wf),
        sends(db, wf),
        rows(db, "SELECT step, status, compensation_action FROM saga_steps WHERE workflow_id = %s", wf),
    ) == tables
    return undone


def each_effect_once(sandbox: Any) -> None:
    keys = Counter(
        (e["system"], e["action"], e["idempotency_key"]) for e in sandbox.effects() if e["idempotency_key"]
    )
    assert all(n == 1 for n in keys.values()), keys


def fault(sandbox: Any, system: str, action: str, status: int, count: int = 1) -> Callable[[], Any]:
    return lambda: sandbox.post(
        "/_sandbox/faults",
        {"system": system, "action": action, "mode": "error", "status": status, "count": count},
    )


# ----------------------------------------------------------------------------- the happy paths
def test_no_reply_every_message_once_in_their_dialect_a_refusing_channel_replaced(
    dag: Any, sandbox: Any, business_db: Any, airflow: Any
) -> None:
    contact_id = seed_contact(sandbox, arabic=True)["contact_id"]
    request_id = new_request()
    # WhatsApp refuses message 2 (the provider is down): it goes by email, the next consented channel.
    script = [waiting_for(2, fault(sandbox, "whatsapp", "send", 503))]
    dr, wf = run(
        dag,
        request_id,
        script,
        contact_id,
        max_messages=2,
        follow_up_after_hours=0.001,
        reply_window_hours=QUICK,
    )

    assert dr.state == "success" and workflow_status(wf) == ("completed", None)
    assert Airflow.of("compensation") == []
    db = business_db
    status, outcome, reason, sent, language, dialect, channels = sequence(db, wf)
    assert (status, outcome, reason, sent) == ("no_reply", "no_reply", "no reply after 2 messages", 2)
    # Arabic, in the Gulf dialect their own writing shows (the dialect service), sms not consented.
    assert (language, dialect, channels) == ("ar", "gulf", ["whatsapp", "email", "sms"])
    consent = {"email": True, "whatsapp": True, "sms": False}
    rows_ = sends(db, wf)
    assert [(r[0], r[1], r[2], r[3], r[5], r[6]) for r in rows_] == [
        (1, "sent", "whatsapp", "partnership_intro.opening.ar", consent, True),
        (2, "sent", "email", "partnership_intro.last_note.ar", consent, True),
    ]
    assert [(a["channel"], a["status"]) for a in rows_[1][4]] == [("whatsapp", 503), ("email", "sent")]

    assert counts(sandbox) == Counter(
        {
            ("crm", "create_contact"): 1,  # the test's seed
            ("crm", "update_contact"): 2,  # in_sequence, then sequence_completed
            ("whatsapp", "open_conversation"): 1,
            ("whatsapp", "send"): 1,
            ("email", "open_conversation"): 1,
            ("email", "send"): 1,
            ("llm", "completion"): 3,  # message 1 for WhatsApp, message 2 for WhatsApp, then for email
        }
    )
    each_effect_once(sandbox)
    (first,) = sandbox.effects(system="whatsapp", action="send")
    body = first["payload"]["body"]
    assert body.startswith("مرحباً ليلى") and body.endswith("للتوقف عن تلقي هذه الرسائل أرسل STOP.")
    (second,) = sandbox.effects(system="email", action="send")
    assert (
        second["payload"]["subject"] == "ختام المتابعة" and "لإيقاف هذه الرسائل" in second["payload"]["body"]
    )
    assert [u["status"] for u in crm_updates(sandbox, contact_id)] == ["in_sequence", "sequence_completed"]
    states = task_states(dr)
    assert states["message_3.due"] == "success" and states["message_3.ended"] == "success"
    assert states["message_4.wait"] == "skipped" and states["undeliverable"] == "skipped"


def test_a_reply_is_handed_to_the_owner_and_the_pending_message_cancelled(
    dag: Any, sandbox: Any, business_db: Any, business_db_url: str, airflow: Any
) -> None:
    contact_id = seed_contact(sandbox, arabic=False)["contact_id"]
    request_id = new_request()
    wf = f"{DAG_ID}:{request_id}"
    reply = "Thanks, who should I talk to about pricing?"
    script = [waiting_for(2, acts(sandbox, business_db_url, wf, 1, "reply", reply))]
    dr, _ = run(dag, request_id, script, contact_id, max_messages=3)

    assert dr.state == "success" and workflow_status(wf) == ("completed", None)
    status, outcome, *_ = sequence(business_db, wf)
    assert (status, outcome) == ("handed_over", "handed_over")
    (first, second) = sends(business_db, wf)
    assert first[:3] == (1, "sent", "email")
    assert second[:2] == (2, "cancelled") and second[7].startswith("the recipient replied on email")
    stored = one(business_db, "SELECT reply FROM outreach_sequences WHERE workflow_id = %s", wf)
    assert (stored["text"], stored["intent"], stored["language"]) == (reply, "referral", "en")
    # The owner is told once; the CRM holds the reply.
    (told,) = [e for e in sandbox.effects(system="email", action="send") if e["payload"]["to"] == OWNER]
    assert told["payload"]["subject"] == "Reply from Ana Almeida (Cedar Trading): referral"
    assert reply in told["payload"]["body"]
    assert [u["status"] for u in crm_updates(sandbox, contact_id)] == ["in_sequence", "replied"]
    assert counts(sandbox)[("email", "send")] == 2 and counts(sandbox)[("llm", "completion")] == 1
    each_effect_once(sandbox)


def test_a_meeting_request_books_through_meeting_booking_as_a_child(
    dag: Any, sandbox: Any, business_db: Any, business_db_url: str, airflow: Any
) -> None:
    contact = seed_contact(sandbox, arabic=False)
    contact_id = contact["contact_id"]
    request_id = new_request()
    wf = f"{DAG_ID}:{request_id}"
    script = [
        waiting_for(2, acts(sandbox, business_db_url, wf, 1, "reply", ASKS_FOR_A_MEETING)),
        Do("meeting_wait", action=child_ends(wf, "completed"), states=("running", "deferred")),
    ]
    dr, _ = run(dag, request_id, script, contact_id, max_messages=3)

    assert dr.state == "success" and workflow_status(wf) == ("completed", None)
    (start,) = Airflow.of("start")
    assert start["dag_id"] == "meeting_booking" and start["run_id"] == f"child__{wf}__meeting"
    conf = start["conf"]
    assert {k: conf[k] for k in ("organizer", "organizer_email", "channel", "attendee_language")} == {
        "organizer": "layla-haddad",
        "organizer_email": OWNER,
        "channel": "email",
        "attendee_language": "en",
    }
    assert conf["attendee_time_zone"] == contact["time_zone"] and conf["parent_workflow_id"] == wf
    assert conf["attendee_email"] == f"{contact_id.lower()}@cedar.example"
    status, outcome, *_ = sequence(business_db, wf)
    assert (status, outcome) == ("meeting", "meeting_booked")
    child = one(business_db, "SELECT meeting_workflow_id FROM outreach_sequences WHERE workflow_id = %s", wf)
    assert child == f"meeting_booking:{request_id}.meeting"
    assert [u["status"] for u in crm_updates(sandbox, contact_id)] == ["in_sequence", "meeting_booked"]
    assert [e for e in sandbox.effects(system="email") if e["payload"].get("to") == OWNER] == []


def child_ends(parent: str, outcome: str) -> Callable[[], None]:
    """The meeting child ends as its own run would record it (dag.test() starts no child run)."""

    def end() -> None:
        from execution_plane.saga import keys, ledger
        from execution_plane.saga.steps import Saga

        (start,) = Airflow.of("start")
        child_request = start["conf"]["request_id"]
        child = keys.workflow_id("meeting_booking", child_request)
        with Saga(
            workflow_id=child, dag_id="meeting_booking", run_id=start["run_id"], business_key=child_request
        ) as saga:
            saga.register()
            with saga.conn() as conn, conn.cursor() as cur:
                ledger.set_status(
                    cur,
                    child,
                    outcome,
                    None if outcome == "completed" else "declined",
                    only_from=("running",),
                )

    return end


# ----------------------------------------------------------------------------- bad endings
def test_an_opt_out_stops_it_rejected_and_compensation_tells_the_crm(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, business_db_url: str, airflow: Any
) -> None:
    contact_id = seed_contact(sandbox, arabic=True)["contact_id"]
    request_id = new_request()
    wf = f"{DAG_ID}:{request_id}"
    script = [waiting_for(2, acts(sandbox, business_db_url, wf, 1, "opt_out"))]
    dr, _ = run(dag, request_id, script, contact_id, max_messages=3)

    assert dr.state == "failed"
    assert workflow_status(wf) == ("rejected", "the recipient opted out on whatsapp")
    status, outcome, *_ = sequence(business_db, wf)
    assert (status, outcome) == ("stopped", "opted_out")
    assert [r[1] for r in sends(business_db, wf)] == ["sent", "cancelled"]
    opted = crm_updates(sandbox, contact_id)[-1]
    assert opted == {"status": "opted_out", "consent": {"whatsapp": False}}
    assert task_states(dr)["stopped"] == "failed"

    undone = compensated_twice(business_db, sandbox, compensation_dag, wf, "rejected")
    assert undone == Counter({("crm", "update_contact"): 1})
    told = crm_updates(sandbox, contact_id)[-1]
    assert told == {
        "status": "opted_out",
        "outreach_status": "stopped",
        "outreach_reason": "the recipient opted out on whatsapp",
    }
    assert sequence(business_db, wf)[:2] == ("stopped", "opted_out")


def test_consent_withdrawn_before_a_message_ends_it_rejected(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, airflow: Any
) -> None:
    contact_id = seed_contact(sandbox, arabic=False)["contact_id"]
    request_id = new_request()
    wf = f"{DAG_ID}:{request_id}"
    withdraw = withdraw_consent(sandbox, contact_id)
    dr, _ = run(
        dag,
        request_id,
        [waiting_for(2, withdraw)],
        contact_id,
        max_messages=2,
        follow_up_after_hours=0.001,
    )

    assert dr.state == "failed"
    # sms has an address but never had consent: the channels checked are every one that could reach them.
    reason = "message 2: the contact consents to none of ['email', 'whatsapp', 'sms'] any more"
    assert workflow_status(wf) == ("rejected", reason)
    assert sequence(business_db, wf)[:3] == ("undeliverable", "no_consent", reason)
    assert [r[1] for r in sends(business_db, wf)] == ["sent", "undeliverable"]
    assert sends(business_db, wf)[1][5] == {"email": False, "whatsapp": False, "sms": False}
    assert counts(sandbox)[("email", "send")] == 1

    undone = compensated_twice(business_db, sandbox, compensation_dag, wf, "rejected")
    assert undone == Counter({("crm", "update_contact"): 1})
    assert crm_updates(sandbox, contact_id)[-1]["status"] == "sequence_stopped"


def withdraw_consent(sandbox: Any, contact_id: str) -> Callable[[], Any]:
    return lambda: _patch(sandbox, contact_id, {"fields": {"consent": {"email": False, "whatsapp": False}}})


def _patch(sandbox: Any, contact_id: str, body: dict[str, Any]) -> Any:
    import httpx

    resp = httpx.patch(
        f"{sandbox.url}/crm/v1/contacts/{contact_id}",
        json=body,
        headers={"Authorization": "Bearer t"},
        timeout=10,
    )
    resp.raise_for_status()
    return resp.json()


def test_every_channel_refusing_ends_it_failed(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, airflow: Any
) -> None:
    contact_id = seed_contact(sandbox, arabic=True)["contact_id"]
    fault(sandbox, "whatsapp", "send", 400)()
    fault(sandbox, "email", "send", 400)()
    request_id = new_request()
    dr, wf = run(dag, request_id, [], contact_id, max_messages=2)

    assert dr.state == "failed"
    status, outcome, reason, sent, *_ = sequence(business_db, wf)
    assert (status, outcome, sent) == ("undeliverable", "channels_failed", 0)
    assert reason == "message 1: every channel refused it: whatsapp (400); email (400)"
    assert workflow_status(wf) == ("failed", reason)
    assert counts(sandbox)[("whatsapp", "send")] == counts(sandbox)[("email", "send")] == 0

    undone = compensated_twice(business_db, sandbox, compensation_dag, wf, "failed")
    assert undone == Counter({("crm", "update_contact"): 1})


def test_a_step_failing_after_its_retries_is_compensated_and_the_pending_message_cancelled(
    dag: Any, compensation_dag: Any, sandbox: Any, business_db: Any, airflow: Any
) -> None:
    contact_id = seed_contact(sandbox, arabic=False)["contact_id"]
    request_id = new_request()
    # The CRM cannot answer the consent check of message 2, through every retry.
    script = [waiting_for(2, fault(sandbox, "crm", "get_contact", 503, count=50))]
    dr, wf = run(dag, request_id, script, contact_id, max_messages=3, follow_up_after_hours=0.001)
    sandbox_clear_faults(sandbox)

    assert dr.state == "failed" and task_states(dr)["message_2.due"] == "failed"
    assert workflow_status(wf) == ("running", None)  # nobody recorded an ending: the callback's job
    assert [r[1] for r in sends(business_db, wf)] == ["sent", "scheduled"]

    undone = compensated_twice(business_db, sandbox, compensation_dag, wf, "failed")
    assert undone == Counter({("crm", "update_contact"): 1})
    assert [r[1] for r in sends(business_db, wf)] == ["sent", "cancelled"]
    assert sequence(business_db, wf)[:2] == ("failed", "failed")
    assert crm_updates(sandbox, contact_id)[-1]["status"] == "sequence_stopped"


def sandbox_clear_faults(sandbox: Any) -> None:
    import httpx

    httpx.delete(f"{sandbox.url}/_sandbox/faults", timeout=10).raise_for_status()
