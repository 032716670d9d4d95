"""Legal entity management: an entity and its contracts, the registry filing that puts the entity under a
new parent, and contract assignments to another entity.

A parent change is ``filed`` until the companies registry decides; the registry's answer comes by signed
webhook (``/webhooks/events/legal``: ``parent_change.registered`` / ``parent_change.refused``, with the
filing's correlation key) and ``get_parent_change`` is the status poll behind a lost one. The undos treat
"already reverted" and "refused by the registry" (nothing to revert) as done.
"""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderHook

PARENT_CHANGE_EVENT_TYPES = ("parent_change.registered", "parent_change.refused")


class LegalHook(ProviderHook):
    system = "legal"
    default_conn_name = "legal_default"
    hook_name = "Legal entity management"

    def entity(self, entity_id: str) -> dict[str, Any]:
        return self.json("GET", f"/entities/{entity_id}")

    def contracts(self, entity_id: str) -> list[dict[str, Any]]:
        return list(self.json("GET", f"/entities/{entity_id}/contracts").get("contracts", []))

    def file_parent_change(
        self,
        *,
        entity_id: str,
        new_parent_id: str,
        effective_date: str,
        correlation_key: str,
        idempotency_key: str,
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/parent-changes",
            json={
                "entity_id": entity_id,
                "new_parent_id": new_parent_id,
                "effective_date": effective_date,
                "correlation_key": correlation_key,
            },
            idempotency_key=idempotency_key,
        )

    def get_parent_change(self, change_id: str) -> dict[str, Any]:
        return self.json("GET", f"/parent-changes/{change_id}")

    def revert_parent_change(self, change_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        return self.undo(
            f"/parent-changes/{change_id}/revert",
            reason=reason,
            idempotency_key=idempotency_key,
            done=("already_reverted", "parent_change_not_revertible"),
        )

    def assign_contracts(
        self, *, from_entity_id: str, to_entity_id: str, contract_ids: list[str], idempotency_key: str
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/assignments",
            json={
                "from_entity_id": from_entity_id,
                "to_entity_id": to_entity_id,
                "contract_ids": contract_ids,
            },
            idempotency_key=idempotency_key,
        )

    def get_assignment(self, assignment_id: str) -> dict[str, Any]:
        return self.json("GET", f"/assignments/{assignment_id}")

    def revert_assignment(self, assignment_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        return self.undo(
            f"/assignments/{assignment_id}/revert",
            reason=reason,
            idempotency_key=idempotency_key,
            done=("already_reverted",),
        )
