"""HRIS: a company's employees, and transfers of employees into another company's organisation.

A transfer is executed once per ``Idempotency-Key``; ``revert_transfer`` treats a transfer that is already
reverted as done (the undo's goal is reached), so a compensation replayed without its stored answer is safe.
"""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderHook


class HrisHook(ProviderHook):
    system = "hris"
    default_conn_name = "hris_default"
    hook_name = "HRIS"

    def employees(self, company_id: str) -> list[dict[str, Any]]:
        return list(self.json("GET", f"/companies/{company_id}/employees").get("employees", []))

    def transfer_employees(
        self,
        *,
        from_company_id: str,
        to_company_id: str,
        employee_ids: list[str],
        effective_date: str,
        reference: str,
        idempotency_key: str,
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/transfers",
            json={
                "from_company_id": from_company_id,
                "to_company_id": to_company_id,
                "employee_ids": employee_ids,
                "effective_date": effective_date,
                "reference": reference,
            },
            idempotency_key=idempotency_key,
        )

    def get_transfer(self, transfer_id: str) -> dict[str, Any]:
        return self.json("GET", f"/transfers/{transfer_id}")

    def revert_transfer(self, transfer_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        return self.undo(
            f"/transfers/{transfer_id}/revert",
            reason=reason,
            idempotency_key=idempotency_key,
            done=("already_reverted",),
        )
