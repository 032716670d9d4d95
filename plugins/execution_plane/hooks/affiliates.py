"""The affiliate platform (accounts, tracking links) and the payout provider (payout profiles).

An account is created ``pending`` and activated once the affiliate can be paid; its tracking links are a
link set. A payout profile is verified by the provider later (the affiliate gives their bank or PayPal
details to the provider itself): the provider answers by signed webhook (``/webhooks/events/payouts``:
``payout_profile.verified`` / ``payout_profile.rejected``, with the profile's correlation key) and
``get_profile`` is the status read behind a lost one. The undos (``close_account``, ``deactivate_links``,
``remove_profile``) treat "already undone" as done.
"""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderHook

PAYOUT_EVENT_TYPES = ("payout_profile.verified", "payout_profile.rejected")


class AffiliatePlatformHook(ProviderHook):
    system = "affiliates"
    default_conn_name = "affiliates_default"
    hook_name = "Affiliate platform"

    def create_account(
        self,
        *,
        reference: str,
        name: str,
        email: str,
        company: str | None,
        website: str | None,
        commission_plan: str,
        idempotency_key: str,
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/accounts",
            json={
                "reference": reference,
                "name": name,
                "email": email,
                "company": company,
                "website": website,
                "commission_plan": commission_plan,
            },
            idempotency_key=idempotency_key,
        )

    def get_account(self, account_id: str) -> dict[str, Any]:
        return self.json("GET", f"/accounts/{account_id}")

    def activate_account(self, account_id: str, *, idempotency_key: str) -> dict[str, Any]:
        return self.json("POST", f"/accounts/{account_id}/activate", idempotency_key=idempotency_key)

    def close_account(self, account_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        return self.undo(
            f"/accounts/{account_id}/close",
            reason=reason,
            idempotency_key=idempotency_key,
            done=("already_closed",),
        )

    def create_links(
        self, account_id: str, *, campaign: str, destinations: list[str], idempotency_key: str
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            f"/accounts/{account_id}/link-sets",
            json={"campaign": campaign, "destinations": destinations},
            idempotency_key=idempotency_key,
        )

    def get_links(self, link_set_id: str) -> dict[str, Any]:
        return self.json("GET", f"/link-sets/{link_set_id}")

    def deactivate_links(self, link_set_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        return self.undo(
            f"/link-sets/{link_set_id}/deactivate",
            reason=reason,
            idempotency_key=idempotency_key,
            done=("already_deactivated",),
        )


class PayoutsHook(ProviderHook):
    system = "payouts"
    default_conn_name = "payouts_default"
    hook_name = "Payout provider"

    def create_profile(
        self,
        *,
        account_ref: str,
        holder_name: str,
        email: str,
        method: str,
        currency: str,
        correlation_key: str,
        idempotency_key: str,
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/profiles",
            json={
                "account_ref": account_ref,
                "holder_name": holder_name,
                "email": email,
                "method": method,
                "currency": currency,
                "correlation_key": correlation_key,
            },
            idempotency_key=idempotency_key,
        )

    def get_profile(self, profile_id: str) -> dict[str, Any]:
        return self.json("GET", f"/profiles/{profile_id}")

    def remove_profile(self, profile_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        return self.undo(
            f"/profiles/{profile_id}/remove",
            reason=reason,
            idempotency_key=idempotency_key,
            done=("already_removed",),
        )
