"""The stand-ins geo_expansion_launch talks to: infrastructure provisioning (with its region callback),
feature flags (rollouts and exposures), product metrics (figures a test chooses) and user notifications (once
per user and campaign). Each honours Idempotency-Key, logs its effects and takes faults like every provider
route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from include.sandbox.markets import USERS_PER_MARKET, market_users, users_in_share
from tests.include.sandbox.sandbox_testkit import SECRETS, Receiver

Count = Callable[[str, str], int]


def region(client: TestClient, key: str | None = None) -> dict[str, Any]:
    headers = {"Idempotency-Key": key} if key else {}
    created = client.post(
        "/infra/v1/regions",
        json={"market": "BR", "region": "sa-east-1", "correlation_key": "geo:L-1:region"},
        headers=headers,
    )
    assert created.status_code == 202, created.text
    return dict(created.json())


def ready_tenant(client: TestClient) -> tuple[str, str]:
    region_id = region(client)["region_id"]
    client.post(f"/_sandbox/infra/regions/{region_id}/ready?deliver=false")
    tenant = client.post("/infra/v1/tenants", json={"market": "BR", "region_id": region_id, "name": "Brazil"})
    assert tenant.status_code == 201, tenant.text
    return region_id, tenant.json()["tenant_id"]


# ----------------------------------------------------------------------------- infrastructure
def test_a_region_comes_up_later_and_calls_back_signed(
    client: TestClient, receiver: Receiver, effect_count: Count
) -> None:
    created = region(client, key="geo:L-1:region")
    assert created["status"] == "provisioning"
    assert region(client, key="geo:L-1:region") == created  # the same key: replayed, provisioned once
    assert effect_count("infra", "provision_region") == 1

    done = client.post(f"/_sandbox/infra/regions/{created['region_id']}/ready").json()
    assert done["region"]["status"] == "ready"
    assert done["deliveries"][0]["status_code"] == 200
    (delivery,) = receiver.received("/webhooks/events/infra")
    delivery.verify(SECRETS["events"])
    event = delivery.json()
    assert (event["type"], event["correlation_key"]) == ("infra.region.ready", "geo:L-1:region")
    assert event["payload"]["region_id"] == created["region_id"]

    # Asking again redelivers the same event (the same id): what a provider's resend looks like.
    again = client.post(f"/_sandbox/infra/regions/{created['region_id']}/ready").json()
    assert again["event"]["event_id"] == event["event_id"]
    assert client.post(f"/_sandbox/infra/regions/{created['region_id']}/fail").status_code == 409


def test_a_region_can_fail_with_a_reason(client: TestClient) -> None:
    region_id = region(client)["region_id"]
    failed = client.post(
        f"/_sandbox/infra/regions/{region_id}/fail?deliver=false", json={"reason": "quota exceeded"}
    ).json()
    assert failed["event"]["type"] == "infra.region.failed"
    assert failed["event"]["payload"]["reason"] == "quota exceeded"
    assert failed["deliveries"] == []
    refused = client.post(
        "/infra/v1/tenants", json={"market": "BR", "region_id": region_id, "name": "Brazil"}
    )
    assert (refused.status_code, refused.json()["error"]) == (409, "region_not_ready")


def test_market_resources_follow_the_providers_dependencies(client: TestClient, effect_count: Count) -> None:
    region_id, tenant_id = ready_tenant(client)
    account = client.post(
        "/infra/v1/payment-accounts", json={"tenant_id": tenant_id, "market": "BR", "currency": "BRL"}
    ).json()
    number = client.post(
        "/infra/v1/messaging-numbers", json={"tenant_id": tenant_id, "market": "BR", "channels": ["sms"]}
    ).json()
    assert number["e164"].startswith("+55") and account["status"] == "active"

    assert client.post(f"/infra/v1/tenants/{tenant_id}/enable").json()["changed"] is True
    assert client.post(f"/infra/v1/tenants/{tenant_id}/enable").json()["changed"] is False
    assert effect_count("infra", "enable_tenant") == 1

    # Removing in the wrong order fails loudly; in the right order each goes once.
    in_use = client.delete(f"/infra/v1/regions/{region_id}")
    assert (in_use.status_code, in_use.json()["error"]) == (409, "region_in_use")
    busy = client.delete(f"/infra/v1/tenants/{tenant_id}")
    assert (busy.status_code, busy.json()["error"]) == (409, "tenant_has_resources")
    assert client.delete(f"/infra/v1/messaging-numbers/{number['number_id']}").json()["status"] == "released"
    assert client.delete(f"/infra/v1/payment-accounts/{account['account_id']}").json()["status"] == "closed"
    assert client.post(f"/infra/v1/tenants/{tenant_id}/disable").json()["status"] == "disabled"
    assert client.delete(f"/infra/v1/tenants/{tenant_id}").json()["status"] == "deleted"
    assert client.delete(f"/infra/v1/regions/{region_id}").json()["status"] == "deprovisioned"
    again = client.delete(f"/infra/v1/regions/{region_id}")
    assert (again.status_code, again.json()["error"]) == (409, "already_deprovisioned")
    for action in ("release_number", "close_payment_account", "disable_tenant", "delete_tenant"):
        assert effect_count("infra", action) == 1
    assert effect_count("infra", "deprovision_region") == 1


def test_infra_takes_faults_like_every_provider(client: TestClient, effect_count: Count) -> None:
    client.post("/_sandbox/faults", json={"system": "infra", "action": "provision_region", "mode": "drop"})
    lost = client.post(
        "/infra/v1/regions",
        json={"market": "BR", "region": "sa-east-1", "correlation_key": "k"},
        headers={"Idempotency-Key": "r-1"},
    )
    assert lost.status_code == 504
    retried = client.post(
        "/infra/v1/regions",
        json={"market": "BR", "region": "sa-east-1", "correlation_key": "k"},
        headers={"Idempotency-Key": "r-1"},
    )
    assert retried.headers["Idempotent-Replayed"] == "true" and retried.status_code == 202
    assert effect_count("infra", "provision_region") == 1


# ----------------------------------------------------------------------------- feature flags
def test_a_rollout_reaches_a_growing_share_and_remembers_who_saw_it(
    client: TestClient, effect_count: Count
) -> None:
    assert client.put("/flags/v1/flags/geo-launch-br-1", json={"description": "BR"}).status_code == 201
    assert (
        client.put("/flags/v1/flags/geo-launch-br-1", json={"description": "BR"}).json()["created"] is False
    )
    assert effect_count("flags", "create_flag") == 1

    canary = client.put(
        "/flags/v1/flags/geo-launch-br-1/markets/BR", json={"enabled": True, "rollout_pct": 5}
    )
    assert canary.json()["reached_users"] == 5 == canary.json()["exposed_users"]
    wider = client.put(
        "/flags/v1/flags/geo-launch-br-1/markets/BR", json={"enabled": True, "rollout_pct": 25}
    )
    assert wider.json()["exposed_users"] == 25
    assert set(users_in_share("geo-launch-br-1", "BR", 5)) < set(users_in_share("geo-launch-br-1", "BR", 25))
    same = client.put("/flags/v1/flags/geo-launch-br-1/markets/BR", json={"enabled": True, "rollout_pct": 25})
    assert same.status_code == 200
    assert effect_count("flags", "set_rollout") == 2  # setting what it is changes nothing

    off = client.put("/flags/v1/flags/geo-launch-br-1/markets/BR", json={"enabled": False, "rollout_pct": 25})
    assert (off.json()["rollout_pct"], off.json()["reached_users"], off.json()["exposed_users"]) == (0, 0, 25)
    seen = client.get("/flags/v1/flags/geo-launch-br-1/exposures", params={"market": "BR"}).json()
    assert seen["count"] == 25
    assert [u["user_id"] for u in seen["users"]] == users_in_share("geo-launch-br-1", "BR", 25)
    flag = client.get("/flags/v1/flags/geo-launch-br-1").json()
    assert flag["markets"]["BR"]["enabled"] is False and flag["exposures"] == {"BR": 25}


def test_flags_refuse_unknown_flags_and_bad_keys(client: TestClient) -> None:
    missing = client.put("/flags/v1/flags/nope/markets/BR", json={"enabled": True, "rollout_pct": 5})
    assert (missing.status_code, missing.json()["error"]) == (404, "flag_not_found")
    bad = client.put("/flags/v1/flags/Bad Key!", json={"description": "x"})
    assert bad.status_code == 422
    assert client.put("/flags/v1/flags/k", json={"description": ""}).status_code == 422


def test_the_share_is_the_markets_population_rounded_up() -> None:
    assert len(market_users("BR")) == USERS_PER_MARKET
    assert [len(users_in_share("f", "BR", pct)) for pct in (0, 1, 5, 33, 100)] == [0, 1, 5, 33, 100]


# ----------------------------------------------------------------------------- product metrics
def test_cohort_figures_follow_the_flag_and_the_chosen_scenario(
    client: TestClient, effect_count: Count
) -> None:
    client.put("/flags/v1/flags/geo-launch-br-2", json={"description": "BR"})
    body = {"cohort_id": "geo-launch-br-2", "market": "BR", "flag_key": "geo-launch-br-2"}
    assert client.post("/metrics/v1/cohorts", json=body).status_code == 201
    assert client.post("/metrics/v1/cohorts", json=body).json()["created"] is False
    assert effect_count("metrics", "create_cohort") == 1
    window = {"start": "2027-01-01T00:00:00Z", "end": "2027-01-04T00:00:00Z"}

    dark = client.get("/metrics/v1/cohorts/geo-launch-br-2/summary", params=window).json()
    assert (dark["share_pct"], dark["sample_size"]) == (0, 0)
    client.put("/flags/v1/flags/geo-launch-br-2/markets/BR", json={"enabled": True, "rollout_pct": 5})
    healthy = client.get("/metrics/v1/cohorts/geo-launch-br-2/summary", params=window).json()
    assert (healthy["share_pct"], healthy["sample_size"]) == (5, 250)
    assert healthy["error_rate"] < 0.01 and healthy["p95_latency_ms"] < 600
    assert healthy == client.get("/metrics/v1/cohorts/geo-launch-br-2/summary", params=window).json()

    client.post("/_sandbox/metrics/figures", json={"market": "BR", "scenario": "breach"})
    breach = client.get("/metrics/v1/cohorts/geo-launch-br-2/summary", params=window).json()
    assert (breach["error_rate"], breach["p95_latency_ms"]) == (0.065, 1450.0)
    client.post(
        "/_sandbox/metrics/figures", json={"market": "BR", "conversion_rate": 0.001, "sample_size": 40}
    )
    chosen = client.get("/metrics/v1/cohorts/geo-launch-br-2/summary", params=window).json()
    assert (chosen["conversion_rate"], chosen["sample_size"]) == (0.001, 40)
    assert client.get("/_sandbox/metrics/figures").json()["figures"]["BR"]["sample_size"] == 40
    client.delete("/_sandbox/metrics/figures")
    assert client.get("/metrics/v1/cohorts/geo-launch-br-2/summary", params=window).json() == healthy


def test_an_unknown_cohort_is_404(client: TestClient) -> None:
    resp = client.get("/metrics/v1/cohorts/nope/summary", params={"start": "a", "end": "b"})
    assert (resp.status_code, resp.json()["error"]) == (404, "cohort_not_found")


# ----------------------------------------------------------------------------- user notifications
def test_each_user_is_notified_once_per_campaign(client: TestClient, effect_count: Count) -> None:
    body = {
        "campaign_id": "geo:L-1:rollback",
        "audience": {"user_ids": ["usr-br-001", "usr-br-002", "usr-br-001"]},
        "template": "early_access_ended",
        "title": "Early access ended",
        "body": "Thank you",
    }
    first = client.post("/notify/v1/notifications", json=body).json()
    assert (first["recipients"], first["notified"], first["already_notified"]) == (2, 2, 0)
    wider = client.post(
        "/notify/v1/notifications",
        json={**body, "audience": {"user_ids": ["usr-br-002", "usr-br-003"]}},
    ).json()
    assert (wider["notified"], wider["already_notified"]) == (1, 1)
    assert effect_count("notify", "notify_user") == 3
    sent = client.get("/notify/v1/notifications", params={"campaign_id": "geo:L-1:rollback"}).json()
    assert sorted(n["user_id"] for n in sent["notifications"]) == ["usr-br-001", "usr-br-002", "usr-br-003"]

    market = client.post(
        "/notify/v1/notifications",
        json={**body, "campaign_id": "geo:L-1:launch", "audience": {"market": "BR"}},
        headers={"Idempotency-Key": "launch-1"},
    ).json()
    assert market["notified"] == USERS_PER_MARKET
    replay = client.post(
        "/notify/v1/notifications",
        json={**body, "campaign_id": "geo:L-1:launch", "audience": {"market": "BR"}},
        headers={"Idempotency-Key": "launch-1"},
    )
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json() == market
    assert effect_count("notify", "notify_user") == 3 + USERS_PER_MARKET


@pytest.mark.parametrize("audience", [{}, {"market": "BR", "user_ids": ["u"]}, {"market": "br"}])
def test_an_audience_is_user_ids_or_a_market(client: TestClient, audience: dict[str, Any]) -> None:
    body = {"campaign_id": "c", "audience": audience, "template": "t", "title": "t", "body": "b"}
    assert client.post("/notify/v1/notifications", json=body).status_code == 422


@pytest.mark.parametrize("path", ["/infra/v1/regions/x", "/flags/v1/flags/x", "/notify/v1/notifications"])
def test_every_launch_system_needs_credentials(anon: TestClient, path: str) -> None:
    assert anon.get(path).status_code == 401
