"""CRM: partners and deals."""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderHook


class CrmHook(ProviderHook):
    system = "crm"
    default_conn_name = "crm_default"
    hook_name = "CRM"

    def get_partner(self, partner_id: str) -> dict[str, Any]:
        return self.json("GET", f"/partners/{partner_id}")

    def update_partner(
        self, partner_id: str, *, status: str, fields: dict[str, Any] | None = None, idempotency_key: str
    ) -> dict[str, Any]:
        return self.json(
            "PATCH",
            f"/partners/{partner_id}",
            json={"status": status, "fields": fields or {}},
            idempotency_key=idempotency_key,
        )

    def get_deal(self, deal_id: str) -> dict[str, Any]:
        return self.json("GET", f"/deals/{deal_id}")

    def update_deal(
        self, deal_id: str, *, status: str, fields: dict[str, Any] | None = None, idempotency_key: str
    ) -> dict[str, Any]:
        return self.json(
            "PATCH",
            f"/deals/{deal_id}",
            json={"status": status, "fields": fields or {}},
            idempotency_key=idempotency_key,
        )

    def add_note(self, subject_id: str, text: str, *, idempotency_key: str) -> dict[str, Any]:
        return self.json(
            "POST", "/notes", json={"subject_id": subject_id, "text": text}, idempotency_key=idempotency_key
        )
