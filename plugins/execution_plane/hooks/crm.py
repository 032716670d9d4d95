"""CRM: partners, deals, customer records (merged after an acquisition, unmerged on a rollback), leads and the
sales team that owns them."""

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

    def customers(self, company_id: str) -> list[dict[str, Any]]:
        return list(self.json("GET", "/customers", params={"company_id": company_id}).get("customers", []))

    def merge_customers(
        self, *, from_company_id: str, into_company_id: str, customer_ids: list[str], idempotency_key: str
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/customer-merges",
            json={
                "from_company_id": from_company_id,
                "into_company_id": into_company_id,
                "customer_ids": customer_ids,
            },
            idempotency_key=idempotency_key,
        )

    def get_customer_merge(self, merge_id: str) -> dict[str, Any]:
        return self.json("GET", f"/customer-merges/{merge_id}")

    def unmerge_customers(self, merge_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Separate merged records again; records separated before count as done."""
        return self.undo(
            f"/customer-merges/{merge_id}/unmerge",
            reason=reason,
            idempotency_key=idempotency_key,
            done=("already_unmerged",),
        )

    def get_lead(self, lead_id: str) -> dict[str, Any]:
        return self.json("GET", f"/leads/{lead_id}")

    def update_lead(
        self,
        lead_id: str,
        *,
        status: str,
        owner_id: str | None = None,
        fields: dict[str, Any] | None = None,
        idempotency_key: str,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"status": status, "fields": fields or {}}
        if owner_id is not None:
            body["owner_id"] = owner_id
        return self.json("PATCH", f"/leads/{lead_id}", json=body, idempotency_key=idempotency_key)

    def owners(self) -> list[dict[str, Any]]:
        """The sales team: each owner's territories, segments, score bands, capacity and open leads."""
        return list(self.json("GET", "/owners").get("owners", []))

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        """A person the sales team writes to: addresses, country, time zone, language, consent, owner."""
        return self.json("GET", f"/contacts/{contact_id}")

    def update_contact(
        self, contact_id: str, *, status: str, fields: dict[str, Any] | None = None, idempotency_key: str
    ) -> dict[str, Any]:
        """Set the contact's status and fields (``consent`` changes only the channels it names)."""
        return self.json(
            "PATCH",
            f"/contacts/{contact_id}",
            json={"status": status, "fields": fields or {}},
            idempotency_key=idempotency_key,
        )
