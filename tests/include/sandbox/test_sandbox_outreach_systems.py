"""What outreach_sequence and meeting_booking need from the sandbox: CRM contacts, messaging conversations
(how a recipient's reply, bounce, complaint or opt-out reaches the sender as a signed webhook) and Cal.com
calendars per organizer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.include.sandbox.sandbox_testkit import SECRETS, Receiver

Count = Callable[[str, str], int]
MONDAY = "2026-01-05"


# ----------------------------------------------------------------------------- CRM contacts
def test_a_contact_exists_for_any_id_and_is_the_same_every_time(client: TestClient) -> None:
    first = client.get("/crm/v1/contacts/C-1").json()
    assert client.get("/crm/v1/contacts/C-1").json() == first
    assert set(first) >= {
        "email",
        "whatsapp",
        "phone",
        "country",
        "time_zone",
        "language",
        "consent",
        "owner_email",
        "owner_calendar",
        "last_message",
    }
    assert first["consent"]["email"] is True
    languages = {client.get(f"/crm/v1/contacts/C-{n}").json()["language"] for n in range(40)}
    assert languages == {"ar", "en"}


def test_arabic_contacts_write_arabic_and_have_arabic_names(client: TestClient) -> None:
    contacts = [client.get(f"/crm/v1/contacts/C-{n}").json() for n in range(40)]
    arabic = [c for c in contacts if c["language"] == "ar"]
    assert arabic
    for contact in arabic:
        assert any("\u0600" <= ch <= "\u06ff" for ch in contact["first_name"] + contact["last_message"])
        assert contact["preferred_channel"] == "whatsapp"


def test_patching_consent_changes_only_the_channels_named(client: TestClient, effect_count: Count) -> None:
    before = client.get("/crm/v1/contacts/C-2").json()["consent"]
    patched = client.patch(
        "/crm/v1/contacts/C-2", json={"status": "unsubscribed", "fields": {"consent": {"sms": False}}}
    )
    assert patched.status_code == 200
    assert patched.json()["consent"] == {**before, "sms": False}
    assert patched.json()["status"] == "unsubscribed"
    assert effect_count("crm", "update_contact") == 1
    refused = client.patch("/crm/v1/contacts/C-2", json={"fields": {"consent": {"sms": "no"}}})
    assert refused.status_code == 422 and refused.json()["error"] == "invalid_consent"
    assert effect_count("crm", "update_contact") == 1


def test_a_seeded_contact_keeps_its_fields_and_cannot_be_seeded_twice(client: TestClient) -> None:
    seeded = client.post("/crm/v1/contacts", json={"contact_id": "C-S", "country": "SA", "language": "ar"})
    assert seeded.status_code == 201 and seeded.json()["country"] == "SA"
    again = client.post("/crm/v1/contacts", json={"contact_id": "C-S"})
    assert again.status_code == 409 and again.json()["error"] == "contact_exists"


# ----------------------------------------------------------------------------- conversations, the recipient
def send(client: TestClient, channel: str, to: str, message_id: str) -> str:
    body: dict[str, Any] = {"to": to, "body": "Hello", "message_id": message_id}
    if channel == "email":
        body["subject"] = "Hi"
    if channel == "whatsapp":
        body["template"] = "intro"
    provider_id: str = client.post(f"/{channel}/v1/messages", json=body).json()["provider_message_id"]
    return provider_id


def test_a_reply_is_reported_under_the_conversation_of_the_message(
    client: TestClient, receiver: Receiver, effect_count: Count
) -> None:
    opened = client.post(
        "/whatsapp/v1/conversations", json={"address": "+966500000001", "correlation_key": "wf:1:messages"}
    )
    assert opened.status_code == 201 and opened.json()["status"] == "open"
    assert effect_count("whatsapp", "open_conversation") == 1
    provider_id = send(client, "whatsapp", "+966500000001", "msg_1")

    result = client.post(f"/_sandbox/messages/{provider_id}/reply", json={"text": "Let's talk next week"})

    assert result.status_code == 200
    (delivery,) = receiver.wait_for(1)
    delivery.verify(SECRETS["events"])
    assert delivery.path == "/webhooks/events/messaging"
    event = delivery.json()
    assert event["type"] == "message.replied" and event["correlation_key"] == "wf:1:messages"
    assert event["payload"]["message_id"] == "msg_1"
    assert event["payload"]["text"] == "Let's talk next week"
    assert event["payload"]["from"] == "+966500000001"
    # The same act again is the same event (a redelivery the ingress drops).
    again = client.post(
        f"/_sandbox/messages/{provider_id}/reply?deliver=false", json={"text": "Let's talk next week"}
    )
    assert again.json()["event"]["event_id"] == event["event_id"]


def test_bounces_complaints_and_opt_outs_have_their_own_types(client: TestClient) -> None:
    client.post(
        "/email/v1/conversations", json={"address": "a@b.example", "correlation_key": "wf:2:messages"}
    )
    provider_id = send(client, "email", "A@B.example", "msg_2")

    def act(action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = client.post(f"/_sandbox/messages/{provider_id}/{action}?deliver=false", json=body)
        assert response.status_code == 200, response.text
        event: dict[str, Any] = response.json()["event"]
        return event

    assert act("bounce")["type"] == "message.bounced"
    assert act("bounce", {"permanent": False})["type"] == "message.deferred"
    assert act("complain")["type"] == "message.complained"
    assert act("opt_out")["type"] == "message.opted_out"
    assert {act(a)["correlation_key"] for a in ("bounce", "complain", "opt_out")} == {"wf:2:messages"}
    assert client.post(f"/_sandbox/messages/{provider_id}/reply", json={}).status_code == 422
    assert client.post("/_sandbox/messages/nope/reply", json={"text": "x"}).status_code == 404


def test_a_message_joins_the_newest_open_conversation_with_its_address(client: TestClient) -> None:
    first = client.post("/sms/v1/conversations", json={"address": "+1555", "correlation_key": "outreach"})
    early = send(client, "sms", "+1555", "msg_a")
    client.post("/sms/v1/conversations", json={"address": "+1555", "correlation_key": "meeting"})
    late = send(client, "sms", "+1555", "msg_b")

    def key(provider_id: str) -> str:
        body = client.post(f"/_sandbox/messages/{provider_id}/opt_out?deliver=false").json()
        return str(body["event"]["correlation_key"])

    assert (key(early), key(late)) == ("outreach", "meeting")
    closed = client.post(
        f"/sms/v1/conversations/{first.json()['conversation_id']}/close", json={"reason": "x"}
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert client.post(f"/sms/v1/conversations/{first.json()['conversation_id']}/close").status_code == 409
    stray = send(client, "sms", "+1999", "msg_c")
    refused = client.post(f"/_sandbox/messages/{stray}/opt_out")
    assert refused.status_code == 409 and refused.json()["error"] == "no_conversation"


# ----------------------------------------------------------------------------- Cal.com per organizer
def test_each_organizer_has_a_calendar_of_their_own(client: TestClient, effect_count: Count) -> None:
    def slots(username: str | None) -> list[str]:
        params = {"start": MONDAY, "days": 5, **({"username": username} if username else {})}
        return [slot["start"] for slot in client.get("/calcom/v1/slots", params=params).json()["slots"]]

    layla, greta, shared = slots("layla-haddad"), slots("greta-fischer"), slots(None)
    assert layla != greta and layla != shared and 20 <= len(layla) < 35
    booked = client.post(
        "/calcom/v1/bookings",
        json={
            "slot_start": layla[0],
            "attendee_email": "p@x.example",
            "title": "Intro",
            "username": "layla-haddad",
            "attendee_time_zone": "Asia/Riyadh",
        },
    )
    assert booked.status_code == 201 and booked.json()["username"] == "layla-haddad"
    assert layla[0] not in slots("layla-haddad")
    assert slots("greta-fischer") == greta and slots(None) == shared
    taken = client.post(
        "/calcom/v1/bookings",
        json={
            "slot_start": layla[0],
            "attendee_email": "q@x.example",
            "title": "x",
            "username": "layla-haddad",
        },
    )
    assert taken.status_code == 409 and effect_count("calcom", "create_booking") == 1
    assert client.get("/calcom/v1/slots", params={"start": MONDAY, "username": "Bad Name"}).status_code == 422


# ----------------------------------------------------------------------------- the LLM asked for a rewrite
def test_a_rewrite_is_answered_with_its_draft(client: TestClient) -> None:
    prompt = "Recipient: Ana.\n<draft>\n  مرحباً ليلى،\n  هل تهتم شركتكم؟  \n</draft>"
    body = {
        "model": "m",
        "messages": [{"role": "system", "content": "Rewrite."}, {"role": "user", "content": prompt}],
    }
    answer = client.post("/llm/v1/chat/completions", json=body).json()
    assert answer["choices"][0]["message"]["content"] == "مرحباً ليلى،\nهل تهتم شركتكم؟"
    summary = client.post(
        "/llm/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "Revenue: 5"}]},
    ).json()
    assert summary["choices"][0]["message"]["content"].startswith("Summary:")
