"""Identity directory: accounts provisioned for people joining an organisation, and group access for them.

The undos (``deprovision_accounts``, ``revoke_access``) treat "already undone" as done.
"""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderHook


class DirectoryHook(ProviderHook):
    system = "directory"
    default_conn_name = "directory_default"
    hook_name = "Identity directory"

    def provision_accounts(
        self, *, domain: str, source: str, people: list[dict[str, str]], idempotency_key: str
    ) -> dict[str, Any]:
        """One account per person (``person_id``, ``name``, ``email``) at ``domain``."""
        return self.json(
            "POST",
            "/provisionings",
            json={"domain": domain, "source": source, "people": people},
            idempotency_key=idempotency_key,
        )

    def get_provisioning(self, provisioning_id: str) -> dict[str, Any]:
        return self.json("GET", f"/provisionings/{provisioning_id}")

    def deprovision_accounts(
        self, provisioning_id: str, *, reason: str, idempotency_key: str
    ) -> dict[str, Any]:
        return self.undo(
            f"/provisionings/{provisioning_id}/deprovision",
            reason=reason,
            idempotency_key=idempotency_key,
            done=("already_deprovisioned",),
        )

    def grant_access(
        self, *, account_ids: list[str], groups: list[str], idempotency_key: str
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/grants",
            json={"account_ids": account_ids, "groups": groups},
            idempotency_key=idempotency_key,
        )

    def get_grant(self, grant_id: str) -> dict[str, Any]:
        return self.json("GET", f"/grants/{grant_id}")

    def revoke_access(self, grant_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        return self.undo(
            f"/grants/{grant_id}/revoke",
            reason=reason,
            idempotency_key=idempotency_key,
            done=("already_revoked",),
        )
