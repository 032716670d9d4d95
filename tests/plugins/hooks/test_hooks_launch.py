"""The hooks of geo_expansion_launch's outside systems against the sandbox: infrastructure provisioning,
feature flags, product metrics and user notifications; what reaches the provider, what comes back, and
undos that find their work already done."""

from __future__ import annotations

import pytest

from execution_plane.hooks.flags import FlagsHook
from execution_plane.hooks.http import ProviderError
from execution_plane.hooks.infra import REGION_EVENT_TYPES, InfraHook
from execution_plane.hooks.metrics import MetricsHook
from execution_plane.hooks.notify import NotifyHook


def ready_region(sandbox, hook: InfraHook, key: str = "rgn-1") -> str:
    region = hook.provision_region(
        market="BR", region="sa-east-1", correlation_key="wf:region", idempotency_key=key
    )
    assert region["status"] == "provisioning"
    sandbox.post(f"/_sandbox/infra/regions/{region['region_id']}/ready?deliver=false")
    return str(region["region_id"])


def test_region_event_types_are_the_providers(sandbox) -> None:
    hook = InfraHook()
    region = hook.provision_region(
        market="BR", region="sa-east-1", correlation_key="wf:r", idempotency_key="k"
    )
    done = sandbox.post(f"/_sandbox/infra/regions/{region['region_id']}/fail?deliver=false")
    assert done["event"]["type"] in REGION_EVENT_TYPES
    assert hook.get_region(region["region_id"])["status"] == "failed"


def test_provision_and_remove_a_market_each_once(sandbox) -> None:
    hook = InfraHook()
    region_id = ready_region(sandbox, hook)
    tenant = hook.create_tenant(market="BR", region_id=region_id, name="Brazil", idempotency_key="t-1")
    assert (
        hook.create_tenant(market="BR", region_id=region_id, name="Brazil", idempotency_key="t-1") == tenant
    )
    account = hook.open_payment_account(
        tenant_id=tenant["tenant_id"], market="BR", currency="BRL", idempotency_key="a-1"
    )
    number = hook.allocate_number(
        tenant_id=tenant["tenant_id"], market="BR", channels=["sms", "whatsapp"], idempotency_key="n-1"
    )
    assert hook.enable_tenant(tenant["tenant_id"], idempotency_key="e-1")["status"] == "enabled"

    assert hook.disable_tenant(tenant["tenant_id"], idempotency_key="d-1")["status"] == "disabled"
    assert hook.release_number(number["number_id"], idempotency_key="u-1")["status"] == "released"
    # Removed already under another key: success (nothing is left), no second effect.
    assert hook.release_number(number["number_id"], idempotency_key="u-2")["already"] is True
    assert hook.close_payment_account(account["account_id"], idempotency_key="u-3")["status"] == "closed"
    assert hook.delete_tenant(tenant["tenant_id"], idempotency_key="u-4")["status"] == "deleted"
    assert hook.disable_tenant(tenant["tenant_id"], idempotency_key="d-2")["already"] is True
    assert hook.deprovision_region(region_id, idempotency_key="u-5")["status"] == "deprovisioned"
    assert hook.deprovision_region(region_id, idempotency_key="u-6")["already"] is True
    counts = {(e["system"], e["action"]) for e in sandbox.effects(system="infra")}
    assert counts == {
        ("infra", action)
        for action in (
            "provision_region",
            "create_tenant",
            "open_payment_account",
            "allocate_number",
            "enable_tenant",
            "disable_tenant",
            "release_number",
            "close_payment_account",
            "delete_tenant",
            "deprovision_region",
        )
    }
    assert len(sandbox.effects(system="infra")) == 10


def test_removing_in_the_wrong_order_is_not_swallowed(sandbox) -> None:
    hook = InfraHook()
    region_id = ready_region(sandbox, hook)
    hook.create_tenant(market="BR", region_id=region_id, name="Brazil", idempotency_key="t-1")
    with pytest.raises(ProviderError) as err:
        hook.deprovision_region(region_id, idempotency_key="u-1")
    assert (err.value.status, err.value.retryable) == (409, False) and "region_in_use" in err.value.body


def test_flags_rollout_and_exposures(sandbox) -> None:
    hook = FlagsHook()
    assert hook.create_flag("geo-launch-br-h", description="BR", idempotency_key="f-1")["created"] is True
    assert hook.create_flag("geo-launch-br-h", description="BR", idempotency_key="f-2")["created"] is False
    assert (
        hook.set_rollout("geo-launch-br-h", "BR", enabled=True, rollout_pct=5, idempotency_key="r-1")[
            "reached_users"
        ]
        == 5
    )
    off = hook.set_rollout("geo-launch-br-h", "BR", enabled=False, rollout_pct=5, idempotency_key="r-2")
    assert (off["enabled"], off["rollout_pct"]) == (False, 0)
    assert len(hook.exposures("geo-launch-br-h", "BR")) == 5
    assert hook.get_flag("geo-launch-br-h")["markets"]["BR"]["enabled"] is False
    assert [e["payload"] for e in sandbox.effects(system="flags", action="set_rollout")] == [
        {"market": "BR", "enabled": True, "rollout_pct": 5},
        {"market": "BR", "enabled": False, "rollout_pct": 0},
    ]


def test_metrics_cohort_summary(sandbox) -> None:
    FlagsHook().create_flag("geo-launch-br-m", description="BR", idempotency_key="f-1")
    FlagsHook().set_rollout("geo-launch-br-m", "BR", enabled=True, rollout_pct=5, idempotency_key="r-1")
    hook = MetricsHook()
    hook.create_cohort(
        "geo-launch-br-m", market="BR", flag_key="geo-launch-br-m", description="c", idempotency_key="c"
    )
    sandbox.post("/_sandbox/metrics/figures", {"market": "BR", "scenario": "breach"})
    summary = hook.cohort_summary(
        "geo-launch-br-m", start="2027-01-01T00:00:00+00:00", end="2027-01-02T00:00:00+00:00"
    )
    assert (summary["share_pct"], summary["sample_size"], summary["error_rate"]) == (5, 250, 0.065)
    assert summary["window"] == {"start": "2027-01-01T00:00:00+00:00", "end": "2027-01-02T00:00:00+00:00"}


def test_notify_users_or_a_market_once_each(sandbox) -> None:
    hook = NotifyHook()
    sent = hook.notify(
        "camp-1",
        user_ids=["usr-br-002", "usr-br-001"],
        title="t",
        body="b",
        template="x",
        idempotency_key="k-1",
    )
    assert (sent["recipients"], sent["notified"]) == (2, 2)
    again = hook.notify(
        "camp-1", user_ids=["usr-br-001"], title="t", body="b", template="x", idempotency_key="k-2"
    )
    assert again["notified"] == 0
    assert sorted(n["user_id"] for n in hook.sent("camp-1")) == ["usr-br-001", "usr-br-002"]
    assert [e["resource_id"] for e in sandbox.effects(system="notify")] == ["usr-br-001", "usr-br-002"]
    with pytest.raises(ValueError, match="not both"):
        hook.notify(
            "camp-2", user_ids=["u"], market="BR", title="t", body="b", template="x", idempotency_key="k"
        )


def test_hooks_use_their_connections() -> None:
    assert [h.default_conn_name for h in (InfraHook, FlagsHook, MetricsHook, NotifyHook)] == [
        "infra_default",
        "flags_default",
        "metrics_default",
        "notify_default",
    ]
