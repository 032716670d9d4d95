"""Finance / ERP: a company's ledgers and bank accounts, ledger consolidation into a parent, bank mandates.

A bank mandate is ``pending`` until the bank acts; the ERP relays the bank's answer by signed webhook
(``/webhooks/events/erp``: ``mandate.activated`` / ``mandate.rejected``, with the mandate's correlation key)
and ``get_mandate`` is the status poll behind a lost one. The undos (``unlink_ledgers``, ``revoke_mandate``)
treat "already undone" and "rejected by the bank" (nothing left to revoke) as done.
"""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderHook

MANDATE_EVENT_TYPES = ("mandate.activated", "mandate.rejected")


class ErpHook(ProviderHook):
    system = "erp"
    default_conn_name = "erp_default"
    hook_name = "Finance / ERP"

    def company(self, company_id: str) -> dict[str, Any]:
        return self.json("GET", f"/companies/{company_id}")

    def link_ledgers(
        self, *, parent_company_id: str, company_id: str, ledger_ids: list[str], idempotency_key: str
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/consolidations",
            json={"parent_company_id": parent_company_id, "company_id": company_id, "ledger_ids": ledger_ids},
            idempotency_key=idempotency_key,
        )

    def get_consolidation(self, consolidation_id: str) -> dict[str, Any]:
        return self.json("GET", f"/consolidations/{consolidation_id}")

    def unlink_ledgers(self, consolidation_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        return self.undo(
            f"/consolidations/{consolidation_id}/unlink",
            reason=reason,
            idempotency_key=idempotency_key,
            done=("already_unlinked",),
        )

    def request_mandate(
        self,
        *,
        company_id: str,
        account_id: str,
        signatories: list[str],
        correlation_key: str,
        idempotency_key: str,
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/bank-mandates",
            json={
                "company_id": company_id,
                "account_id": account_id,
                "signatories": signatories,
                "correlation_key": correlation_key,
            },
            idempotency_key=idempotency_key,
        )

    def get_mandate(self, mandate_id: str) -> dict[str, Any]:
        return self.json("GET", f"/bank-mandates/{mandate_id}")

    def revoke_mandate(self, mandate_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        return self.undo(
            f"/bank-mandates/{mandate_id}/revoke",
            reason=reason,
            idempotency_key=idempotency_key,
            done=("already_revoked", "mandate_not_revocable"),
        )
