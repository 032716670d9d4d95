"""Infrastructure provisioning: a market's region deployment, its tenant, payment account and messaging
numbers, each created once per idempotency key and removed by its own call.

A region comes up asynchronously: ``provision_region`` answers ``provisioning`` and the provider later calls
back (``/webhooks/events/infra``: ``infra.region.ready`` / ``infra.region.failed``) with the correlation key
it was given; ``get_region`` is the status read behind a lost callback. Removing what is already removed is
success: nothing is left running, which is all an undo is for.
"""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderError, ProviderHook

REGION_EVENT_TYPES = ("infra.region.ready", "infra.region.failed")


class InfraHook(ProviderHook):
    system = "infra"
    default_conn_name = "infra_default"
    hook_name = "Infrastructure provisioning"

    # ------------------------------------------------------------------ regions
    def provision_region(
        self, *, market: str, region: str, correlation_key: str, idempotency_key: str
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/regions",
            json={"market": market, "region": region, "correlation_key": correlation_key},
            idempotency_key=idempotency_key,
        )

    def get_region(self, region_id: str) -> dict[str, Any]:
        return self.json("GET", f"/regions/{region_id}")

    def deprovision_region(self, region_id: str, *, idempotency_key: str) -> dict[str, Any]:
        return self._remove(f"/regions/{region_id}", "already_deprovisioned", idempotency_key)

    # ------------------------------------------------------------------ the market's tenant
    def create_tenant(
        self, *, market: str, region_id: str, name: str, idempotency_key: str
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/tenants",
            json={"market": market, "region_id": region_id, "name": name},
            idempotency_key=idempotency_key,
        )

    def enable_tenant(self, tenant_id: str, *, idempotency_key: str) -> dict[str, Any]:
        return self.json("POST", f"/tenants/{tenant_id}/enable", idempotency_key=idempotency_key)

    def disable_tenant(self, tenant_id: str, *, idempotency_key: str) -> dict[str, Any]:
        """A deleted tenant is as disabled as it gets: success."""
        return self._remove(f"/tenants/{tenant_id}/disable", "tenant_deleted", idempotency_key, method="POST")

    def delete_tenant(self, tenant_id: str, *, idempotency_key: str) -> dict[str, Any]:
        return self._remove(f"/tenants/{tenant_id}", "already_deleted", idempotency_key)

    # ------------------------------------------------------------------ payment accounts, messaging numbers
    def open_payment_account(
        self, *, tenant_id: str, market: str, currency: str, idempotency_key: str
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/payment-accounts",
            json={"tenant_id": tenant_id, "market": market, "currency": currency},
            idempotency_key=idempotency_key,
        )

    def close_payment_account(self, account_id: str, *, idempotency_key: str) -> dict[str, Any]:
        return self._remove(f"/payment-accounts/{account_id}", "already_closed", idempotency_key)

    def allocate_number(
        self, *, tenant_id: str, market: str, channels: list[str], idempotency_key: str
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/messaging-numbers",
            json={"tenant_id": tenant_id, "market": market, "channels": channels},
            idempotency_key=idempotency_key,
        )

    def release_number(self, number_id: str, *, idempotency_key: str) -> dict[str, Any]:
        return self._remove(f"/messaging-numbers/{number_id}", "already_released", idempotency_key)

    def _remove(
        self, path: str, done_error: str, idempotency_key: str, *, method: str = "DELETE"
    ) -> dict[str, Any]:
        resp = self.request(method, path, idempotency_key=idempotency_key, accept=(409,))
        body: dict[str, Any] = resp.json()
        if resp.status_code == 409:
            if body.get("error") != done_error:
                # e.g. region_in_use: something still depends on it; undoing in the wrong order is a bug.
                raise ProviderError(self.system, 409, resp.text, retryable=False)
            return {**body, "already": True}
        return body
