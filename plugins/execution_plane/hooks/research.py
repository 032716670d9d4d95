"""Company research and financial data APIs (read-only: no idempotency needed)."""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderHook


class ResearchHook(ProviderHook):
    system = "research"
    default_conn_name = "research_default"
    hook_name = "Company research"

    def company(self, domain: str) -> dict[str, Any]:
        return self.json("GET", f"/companies/{domain}")


class FinancialsHook(ProviderHook):
    system = "financials"
    default_conn_name = "financials_default"
    hook_name = "Financial data"

    def company(self, company_id: str) -> dict[str, Any]:
        return self.json("GET", f"/companies/{company_id}")
