"""The sales workflows' hooks against the sandbox: CRM leads and owners, the research APIs honouring
``429 Retry-After``, sanctions screening, the affiliate platform and the payout provider (undos that find
the work undone already are success)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from execution_plane.hooks.affiliates import PAYOUT_EVENT_TYPES, AffiliatePlatformHook, PayoutsHook
from execution_plane.hooks.crm import CrmHook
from execution_plane.hooks.http import ProviderError
from execution_plane.hooks.research import FinancialsHook, ResearchHook, retry_after_s
from execution_plane.hooks.sanctions import SanctionsHook


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert retry_after_s("3") == 3.0
    assert retry_after_s(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now) == 7.0
    assert retry_after_s(format_datetime(now - timedelta(seconds=7), usegmt=True), now=now) == 0.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None


def test_the_research_hook_waits_as_told_by_retry_after(sandbox: Any) -> None:
    sandbox.post("/_sandbox/rate-limits", {"system": "research", "limit": 1, "window_s": 1})
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        import time

        slept.append(seconds)
        time.sleep(seconds)

    hook = ResearchHook(sleep=sleep)
    first, second = hook.company("acme.example"), hook.company("acme.example")
    assert first == second and first["domain"] == "acme.example"
    assert hook.waits == len(slept) >= 1 and slept[0] == 1.0 and hook.waited_s == sum(slept)


def test_the_research_hook_gives_up_past_its_waiting_budget(sandbox: Any) -> None:
    sandbox.post("/_sandbox/rate-limits", {"system": "financials", "limit": 1, "window_s": 60})
    hook = FinancialsHook(max_wait_s=5, sleep=lambda _s: None)
    hook.company("co_1")
    with pytest.raises(ProviderError) as limited:
        hook.company("co_1")
    assert (limited.value.status, limited.value.retryable, hook.waits) == (429, True, 0)


def test_an_unknown_company_is_a_404_not_a_wait(sandbox: Any) -> None:
    with pytest.raises(ProviderError) as unknown:
        ResearchHook().company("nobody.invalid")
    assert (unknown.value.status, unknown.value.retryable) == (404, False)


def test_crm_leads_and_owners(sandbox: Any) -> None:
    hook = CrmHook()
    lead = hook.get_lead("L-900")
    assert lead["lead_id"] == "L-900" and lead["status"] == "new"
    updated = hook.update_lead(
        "L-900", status="qualified", owner_id="own-overflow", fields={"score": 55}, idempotency_key="lq-1"
    )
    assert updated == hook.update_lead(
        "L-900", status="qualified", owner_id="own-overflow", fields={"score": 55}, idempotency_key="lq-1"
    )
    assert (updated["owner_id"], updated["score"]) == ("own-overflow", 55)
    assert len(sandbox.effects(system="crm", action="update_lead")) == 1
    load = {o["owner_id"]: o["open_leads"] for o in hook.owners()}
    assert load["own-overflow"] == 6


def test_sanctions_screening_once_per_key(sandbox: Any) -> None:
    hook = SanctionsHook()
    fields = {"reference": "app-7", "person_name": "Marek Zolnai", "organization": None, "country": "DE"}
    first = hook.screen(**fields, idempotency_key="scr-1")
    assert first == hook.screen(**fields, idempotency_key="scr-1")
    assert first["status"] == "match" and first["matches"][0]["entry_id"] == "SAN-002"
    assert len(sandbox.effects(system="sanctions", action="screen")) == 1


def test_affiliate_account_links_and_payout_profile_with_their_undos(sandbox: Any) -> None:
    platform, payouts = AffiliatePlatformHook(), PayoutsHook()
    account = platform.create_account(
        reference="app-8",
        name="Ana",
        email="ana@blog.example",
        company=None,
        website="blog.example",
        commission_plan="standard",
        idempotency_key="acc-1",
    )
    links = platform.create_links(
        account["account_id"],
        campaign="welcome",
        destinations=["https://ep.example/"],
        idempotency_key="lnk-1",
    )
    profile = payouts.create_profile(
        account_ref=account["account_id"],
        holder_name="Ana",
        email="ana@blog.example",
        method="paypal",
        currency="USD",
        correlation_key="affiliate_onboarding:app-8:payouts",
        idempotency_key="pay-1",
    )
    assert payouts.get_profile(profile["profile_id"])["status"] == "verifying"
    assert platform.activate_account(account["account_id"], idempotency_key="act-1")["status"] == "active"
    for name, undo in (
        (
            "profile",
            lambda key: payouts.remove_profile(profile["profile_id"], reason="x", idempotency_key=key),
        ),
        (
            "links",
            lambda key: platform.deactivate_links(links["link_set_id"], reason="x", idempotency_key=key),
        ),
        (
            "account",
            lambda key: platform.close_account(account["account_id"], reason="x", idempotency_key=key),
        ),
    ):
        assert "already" not in undo(f"{name}-u1")
        assert undo(f"{name}-u2")["already"] is True
    assert platform.get_account(account["account_id"])["status"] == "closed"
    assert platform.get_links(links["link_set_id"])["status"] == "deactivated"
    assert PAYOUT_EVENT_TYPES == ("payout_profile.verified", "payout_profile.rejected")
