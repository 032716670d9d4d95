"""Regulator portal: filings submitted once, read back, and withdrawn.

A filing has a ``kind`` (the procedure: ``merger_control``, ``market_entry``, ...) and a ``subject`` (what it
is about: a deal, a market), so any workflow that files with an authority uses this hook. The portal answers
a submission with its case ``reference`` and later tells the applicant, by signed webhook
(``/webhooks/events/regulator``, ``filing.acknowledged`` / ``filing.cleared`` /
``filing.cleared_with_conditions`` / ``filing.refused``), what became of it; ``get_filing`` is the status
poll behind a lost webhook.
"""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderError, ProviderHook

#: The portal's filing statuses after which no further regulator event comes.
DECISIONS = ("cleared", "cleared_with_conditions", "refused")
FILING_EVENT_TYPES = tuple(f"filing.{status}" for status in ("acknowledged", *DECISIONS))


class RegulatorHook(ProviderHook):
    system = "regulator"
    default_conn_name = "regulator_default"
    hook_name = "Regulator portal"

    def submit_filing(
        self,
        *,
        kind: str,
        subject: str,
        jurisdiction: str,
        applicant: str,
        summary: str,
        correlation_key: str,
        idempotency_key: str,
        details: dict[str, Any] | None = None,
        document_sha256: str | None = None,
    ) -> dict[str, Any]:
        """File once: the same ``idempotency_key`` replays the first answer (``filing_id``, ``reference``)."""
        body: dict[str, Any] = {
            "kind": kind,
            "subject": subject,
            "jurisdiction": jurisdiction,
            "applicant": applicant,
            "summary": summary,
            "details": details or {},
            "correlation_key": correlation_key,
        }
        if document_sha256 is not None:
            body["document_sha256"] = document_sha256
        return self.json("POST", "/filings", json=body, idempotency_key=idempotency_key)

    def get_filing(self, filing_id: str) -> dict[str, Any]:
        return self.json("GET", f"/filings/{filing_id}")

    def find_filings(
        self, *, correlation_key: str | None = None, subject: str | None = None, kind: str | None = None
    ) -> list[dict[str, Any]]:
        params = {
            name: value
            for name, value in (("correlation_key", correlation_key), ("subject", subject), ("kind", kind))
            if value is not None
        }
        return list(self.json("GET", "/filings", params=params).get("filings", []))

    def withdraw_filing(self, filing_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Withdrawing a filing that is already withdrawn, or that the authority refused (a closed case),
        is success: nothing is pending before the regulator any more, which is all the undo is for."""
        resp = self.request(
            "POST",
            f"/filings/{filing_id}/withdraw",
            json={"reason": reason},
            idempotency_key=idempotency_key,
            accept=(409,),
        )
        body: dict[str, Any] = resp.json()
        closed = body.get("error") == "already_withdrawn" or (
            body.get("error") == "filing_not_withdrawable" and body.get("status") == "refused"
        )
        if resp.status_code == 409 and not closed:
            raise ProviderError(self.system, 409, resp.text, retryable=False)
        return body
