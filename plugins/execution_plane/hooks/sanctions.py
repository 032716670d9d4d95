"""Sanctions screening: a person and/or organisation screened against the provider's consolidated list.

A screening is the compliance record of the check (the provider keeps it), so it is created once per
application: the ledger's key goes as ``Idempotency-Key`` and a retry gets the same screening back.
"""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderHook

SCREENING_STATUSES = ("clear", "potential_match", "match")


class SanctionsHook(ProviderHook):
    system = "sanctions"
    default_conn_name = "sanctions_default"
    hook_name = "Sanctions screening"

    def screen(
        self,
        *,
        reference: str,
        person_name: str | None,
        organization: str | None,
        country: str | None,
        idempotency_key: str,
    ) -> dict[str, Any]:
        """``{"screening_id", "status": clear | potential_match | match, "matches": [...], "list"}``."""
        return self.json(
            "POST",
            "/screenings",
            json={
                "reference": reference,
                "person_name": person_name,
                "organization": organization,
                "country": country,
            },
            idempotency_key=idempotency_key,
        )
