from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.include.sandbox.sandbox_testkit import SECRETS, Receiver

Count = Callable[[str, str], int]


def test_partner_profile_is_derived_deterministically(client: TestClient) -> None:
    first = client.get("/crm/v1/partners/P-42").json()
    assert client.get("/crm/v1/partners/P-42").json() == first
    assert client.get("/crm/v1/partners/P-43").json() != first

    assert first["partner_id"] == "P-42"
    assert first["email"] == "P-42@partners.example"
    assert first["whatsapp"].startswith("+")
    assert first["whatsapp"][1:].isdigit()
    for field in ("name", "company", "country", "industry"):
        assert isinstance(first[field], str)
        assert first[field]
    for field in ("annual_revenue_usd", "employees", "years_in_business", "existing_customers"):
        assert isinstance(first[field], int)
        assert first[field] >= 0
    assert isinstance(first["compliance_flags"], list)


def test_some_partners_carry_compliance_flags(client: TestClient) -> None:
    flagged = [client.get(f"/crm/v1/partners/P-{n}").json()["compliance_flags"] for n in range(40)]
    assert any(flagged)
    assert not all(flagged)


def test_seeding_a_partner_overrides_derived_fields(client: TestClient, effect_count: Count) -> None:
    seeded = client.post(
        "/crm/v1/partners", json={"partner_id": "P-seed", "annual_revenue_usd": 1_000_000, "country": "DE"}
    )
    assert seeded.status_code == 201
    profile = client.get("/crm/v1/partners/P-seed").json()
    assert profile["annual_revenue_usd"] == 1_000_000
    assert profile["country"] == "DE"
    assert profile["email"] == "P-seed@partners.example"
    assert effect_count("crm", "create_partner") == 1

    again = client.post("/crm/v1/partners", json={"partner_id": "P-seed"})
    assert again.status_code == 409
    assert again.json()["error"] == "partner_exists"


def test_seeding_without_an_id_generates_one(client: TestClient) -> None:
    created = client.post("/crm/v1/partners", json={"company": "Fresh Ltd"}).json()
    assert created["partner_id"].startswith("ptn_")
    assert client.get(f"/crm/v1/partners/{created['partner_id']}").json()["company"] == "Fresh Ltd"


def test_patch_partner_and_deal(client: TestClient, effect_count: Count) -> None:
    partner = client.patch("/crm/v1/partners/P-1", json={"status": "active", "fields": {"tier": "gold"}})
    assert partner.status_code == 200
    assert partner.json()["status"] == "active"
    assert partner.json()["tier"] == "gold"

    deal_before = client.get("/crm/v1/deals/D-1").json()
    assert deal_before["status"] == "open"
    deal = client.patch(
        "/crm/v1/deals/D-1", json={"status": "won", "fields": {"deal_id": "hijack", "signed": True}}
    )
    assert deal.json()["status"] == "won"
    assert deal.json()["signed"] is True
    assert deal.json()["deal_id"] == "D-1"
    assert deal.json()["amount_usd"] == deal_before["amount_usd"]
    assert client.get("/crm/v1/deals/D-1").json()["status"] == "won"

    assert effect_count("crm", "update_partner") == 1
    assert effect_count("crm", "update_deal") == 1
    effect = client.get("/_sandbox/effects", params={"action": "update_deal"}).json()["effects"][0]
    assert effect["resource_id"] == "D-1"
    assert effect["payload"] == {"signed": True, "status": "won"}


def test_notes(client: TestClient, effect_count: Count) -> None:
    note = client.post("/crm/v1/notes", json={"subject_id": "D-1", "text": "Signed by partner"})
    assert note.status_code == 201
    assert note.json()["note_id"].startswith("note_")
    assert client.post("/crm/v1/notes", json={"subject_id": "D-1"}).status_code == 422
    notes = client.get("/crm/v1/notes", params={"subject_id": "D-1"}).json()["notes"]
    assert [n["text"] for n in notes] == ["Signed by partner"]
    assert effect_count("crm", "create_note") == 1


def test_crm_event_is_delivered_signed_with_the_crm_secret(client: TestClient, receiver: Receiver) -> None:
    result = client.post(
        "/_sandbox/crm/events",
        json={"event_id": "crm-evt-1", "workflow": "partner_approval", "payload": {"partner_id": "P-1"}},
    ).json()

    assert result["queued"] == 1
    assert result["deliveries"][0]["ok"] is True
    (delivery,) = receiver.received("/webhooks/crm/events")
    delivery.verify(SECRETS["crm"])
    body = delivery.json()
    assert body["event_id"] == "crm-evt-1"
    assert body["workflow"] == "partner_approval"
    assert body["payload"] == {"partner_id": "P-1"}
    assert body["occurred_at"].endswith("Z")
