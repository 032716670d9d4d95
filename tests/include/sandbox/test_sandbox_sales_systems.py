"""The sandbox systems of the sales workflows: CRM leads and the sales team, the research and financial APIs'
rate limits, sanctions screening, the affiliate platform and the payout provider (whose verification comes
back by signed webhook with a stable event id)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.include.sandbox.sandbox_testkit import SECRETS, Receiver

Count = Callable[[str, str], int]


# ----------------------------------------------------------------------------------------------- CRM leads
def test_a_lead_is_derived_seeded_patched_and_deleted(client: TestClient, effect_count: Count) -> None:
    derived = client.get("/crm/v1/leads/L-100").json()
    assert derived == client.get("/crm/v1/leads/L-100").json() != client.get("/crm/v1/leads/L-101").json()
    assert derived["status"] == "new" and derived["owner_id"] is None
    assert derived["contact_email"].endswith("@" + derived["company_domain"])

    seeded = client.post("/crm/v1/leads", json={"lead_id": "L-200", "country": "AE", "company_size": 40})
    assert seeded.status_code == 201 and (seeded.json()["country"], seeded.json()["company_size"]) == (
        "AE",
        40,
    )
    again = client.post("/crm/v1/leads", json={"lead_id": "L-200"})
    assert (again.status_code, again.json()["error"]) == (409, "lead_exists")

    patched = client.patch(
        "/crm/v1/leads/L-200",
        json={"status": "qualified", "owner_id": "own-mea-smb", "fields": {"score": 71}},
    ).json()
    assert (patched["status"], patched["owner_id"], patched["score"], patched["country"]) == (
        "qualified",
        "own-mea-smb",
        71,
        "AE",
    )
    unknown = client.patch("/crm/v1/leads/L-200", json={"owner_id": "own-nobody"})
    assert (unknown.status_code, unknown.json()["error"]) == (422, "unknown_owner")

    assert client.delete("/crm/v1/leads/L-200").json()["deleted"] is True
    for response in (client.get("/crm/v1/leads/L-200"), client.patch("/crm/v1/leads/L-200", json={})):
        assert (response.status_code, response.json()["error"]) == (404, "lead_not_found")
    assert effect_count("crm", "update_lead") == 1 and effect_count("crm", "delete_lead") == 1


def test_an_owners_load_grows_with_the_leads_assigned_to_them(client: TestClient) -> None:
    def load() -> dict[str, int]:
        return {o["owner_id"]: o["open_leads"] for o in client.get("/crm/v1/owners").json()["owners"]}

    before = load()
    assert before["own-eu-smb"] == 9 and before["own-nurture"] == 240
    for lead in ("L-1", "L-2"):
        client.patch(f"/crm/v1/leads/{lead}", json={"status": "qualified", "owner_id": "own-eu-smb"})
    client.patch("/crm/v1/leads/L-3", json={"status": "lost", "owner_id": "own-eu-smb"})
    assert load() == {**before, "own-eu-smb": 11}
    owners = client.get("/crm/v1/owners").json()["owners"]
    assert all({"territories", "segments", "bands", "capacity", "email"} <= set(o) for o in owners)


# ----------------------------------------------------------------------------------------------- rate limits
def test_research_answers_429_with_retry_after_over_its_limit(client: TestClient) -> None:
    limits = client.post("/_sandbox/rate-limits", json={"system": "research", "limit": 2, "window_s": 1.5})
    assert limits.json()["rate_limits"]["research"] == {"limit": 2, "window_s": 1.5}
    statuses = [client.get("/research/v1/companies/acme.example").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = client.get("/research/v1/companies/acme.example")
    assert refused.json()["error"] == "rate_limited" and refused.headers["Retry-After"] in ("1", "2")
    # The financial API keeps its own window.
    assert client.get("/financials/v1/companies/co_1").status_code == 200
    time.sleep(1.6)
    assert client.get("/research/v1/companies/acme.example").status_code == 200

    client.post("/_sandbox/rate-limits", json={"system": "research", "limit": None})
    assert all(client.get("/research/v1/companies/a.example").status_code == 200 for _ in range(15))
    client.post("/_sandbox/reset")
    assert client.get("/_sandbox/rate-limits").json()["rate_limits"]["research"] == {
        "limit": 10,
        "window_s": 1.0,
    }


def test_research_does_not_know_invalid_domains(client: TestClient) -> None:
    response = client.get("/research/v1/companies/nobody.invalid")
    assert (response.status_code, response.json()["error"]) == (404, "company_not_found")


# ----------------------------------------------------------------------------------------------- sanctions
@pytest.mark.parametrize(
    ("subject", "status"),
    [
        ({"person_name": "Marek  ZOLNAI"}, "match"),
        ({"organization": "Drago Holdings Ltd"}, "match"),
        ({"organization": "Sable Finch Trading GmbH"}, "match"),
        ({"organization": "Orion Blackwater Consulting"}, "potential_match"),
        ({"person_name": "Ana Almeida", "organization": "Northwind GmbH"}, "clear"),
    ],
)
def test_screening_matches_listed_names(client: TestClient, subject: dict[str, str], status: str) -> None:
    screening = client.post("/sanctions/v1/screenings", json={**subject, "reference": "app-1"}).json()
    assert screening["status"] == status
    assert bool(screening["matches"]) == (status != "clear")


def test_a_screening_is_kept_once_per_key_and_the_list_can_grow(
    client: TestClient, effect_count: Count
) -> None:
    body = {"person_name": "Dana Quill", "reference": "app-2"}
    headers = {"Idempotency-Key": "aff:screening"}
    first = client.post("/sanctions/v1/screenings", json=body, headers=headers)
    assert first.json() == client.post("/sanctions/v1/screenings", json=body, headers=headers).json()
    assert first.json()["status"] == "clear" and effect_count("sanctions", "screen") == 1
    assert client.get(f"/sanctions/v1/screenings/{first.json()['screening_id']}").json() == first.json()
    client.post("/_sandbox/sanctions/entries", json={"name": "Dana Quill"})
    assert client.post("/sanctions/v1/screenings", json=body).json()["status"] == "match"
    empty = client.post("/sanctions/v1/screenings", json={"reference": "app-3"})
    assert empty.status_code == 422


# ----------------------------------------------------------------------------------------------- affiliates
def account_body(**fields: str) -> dict[str, str]:
    return {
        "reference": "app-1",
        "name": "Ana",
        "email": "ana@blog.example",
        "commission_plan": "standard",
    } | fields


def test_account_links_activation_and_closing(client: TestClient, effect_count: Count) -> None:
    created = client.post("/affiliates/v1/accounts", json=account_body()).json()
    assert created["status"] == "pending"
    taken = client.post("/affiliates/v1/accounts", json=account_body(email="ANA@blog.example"))
    assert (taken.status_code, taken.json()["account_id"]) == (409, created["account_id"])

    account = created["account_id"]
    links = client.post(
        f"/affiliates/v1/accounts/{account}/link-sets",
        json={"campaign": "launch", "destinations": ["https://ep.example/", "https://ep.example/pricing"]},
    ).json()
    assert [link["destination"] for link in links["links"]] == [
        "https://ep.example/",
        "https://ep.example/pricing",
    ]
    assert len({link["url"] for link in links["links"]}) == 2
    assert client.post(f"/affiliates/v1/accounts/{account}/activate").json()["changed"] is True
    assert client.post(f"/affiliates/v1/accounts/{account}/activate").json()["changed"] is False
    assert effect_count("affiliates", "activate_account") == 1

    deactivated = client.post(
        f"/affiliates/v1/link-sets/{links['link_set_id']}/deactivate", json={"reason": "x"}
    )
    assert deactivated.json()["status"] == "deactivated"
    twice = client.post(f"/affiliates/v1/link-sets/{links['link_set_id']}/deactivate", json={"reason": "x"})
    assert (twice.status_code, twice.json()["error"]) == (409, "already_deactivated")
    assert client.post(f"/affiliates/v1/accounts/{account}/close", json={"reason": "x"}).status_code == 200
    closed = client.post(f"/affiliates/v1/accounts/{account}/close", json={"reason": "x"})
    assert (closed.status_code, closed.json()["error"]) == (409, "already_closed")
    # A closed account frees the email for a new application.
    assert client.post("/affiliates/v1/accounts", json=account_body()).status_code == 201


PROFILE = {
    "account_ref": "app-1",
    "holder_name": "Ana",
    "email": "ana@blog.example",
    "method": "bank_transfer",
    "currency": "USD",
    "correlation_key": "affiliate_onboarding:app-1:payouts",
}


@pytest.mark.parametrize(("action", "status"), [("verify", "verified"), ("reject", "rejected")])
def test_the_payout_provider_answers_by_signed_webhook(
    client: TestClient, receiver: Receiver, action: str, status: str
) -> None:
    profile = client.post("/payouts/v1/profiles", json=PROFILE).json()
    assert profile["status"] == "verifying" and profile["onboarding_url"].endswith(profile["profile_id"])
    first = client.post(f"/_sandbox/payouts/profiles/{profile['profile_id']}/{action}").json()
    again = client.post(f"/_sandbox/payouts/profiles/{profile['profile_id']}/{action}").json()
    assert first["event"] == again["event"]
    (delivery, redelivery) = receiver.received("/webhooks/events/payouts")
    delivery.verify(SECRETS["events"])
    event = delivery.json()
    assert event["type"] == f"payout_profile.{status}" and event["event_id"] == redelivery.json()["event_id"]
    assert event["correlation_key"] == PROFILE["correlation_key"]
    assert event["payload"]["status"] == status
    assert (event["payload"]["reason"] is None) == (status == "verified")
    other = "reject" if action == "verify" else "verify"
    refused = client.post(f"/_sandbox/payouts/profiles/{profile['profile_id']}/{other}?deliver=false")
    assert (refused.status_code, refused.json()["error"]) == (409, "invalid_transition")


def test_a_payout_profile_is_removed_once(client: TestClient, effect_count: Count) -> None:
    profile = client.post("/payouts/v1/profiles", json=PROFILE).json()["profile_id"]
    assert (
        client.post(f"/payouts/v1/profiles/{profile}/remove", json={"reason": "x"}).json()["status"]
        == "removed"
    )
    twice = client.post(f"/payouts/v1/profiles/{profile}/remove", json={"reason": "x"})
    assert (twice.status_code, twice.json()["error"]) == (409, "already_removed")
    assert client.get(f"/payouts/v1/profiles/{profile}").json()["status"] == "removed"
    assert effect_count("payouts", "create_profile") == 1 and effect_count("payouts", "remove_profile") == 1
