"""e-signature provider: envelopes (create, status, void)."""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderHook


class EsignHook(ProviderHook):
    system = "esign"
    default_conn_name = "esign_default"
    hook_name = "eSign"

    def create_envelope(
        self,
        *,
        document_sha256: str,
        document_uri: str,
        subject: str,
        signers: list[dict[str, str]],
        correlation_key: str,
        idempotency_key: str,
    ) -> dict[str, Any]:
        return self.json(
            "POST",
            "/envelopes",
            json={
                "document_sha256": document_sha256,
                "document_uri": document_uri,
                "subject": subject,
                "signers": signers,
                "correlation_key": correlation_key,
            },
            idempotency_key=idempotency_key,
        )

    def get_envelope(self, envelope_id: str) -> dict[str, Any]:
        return self.json("GET", f"/envelopes/{envelope_id}")

    def void_envelope(self, envelope_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Voiding an envelope that is already void, declined or expired is success: nobody can sign it any
        more, which is all the undo is for. A signed envelope is a commitment: refusing loudly is right."""
        resp = self.request(
            "POST",
            f"/envelopes/{envelope_id}/void",
            json={"reason": reason},
            idempotency_key=idempotency_key,
            accept=(409,),
        )
        body: dict[str, Any] = resp.json()
        dead = body.get("error") == "already_voided" or (
            body.get("error") == "envelope_not_voidable" and body.get("status") in ("declined", "expired")
        )
        if resp.status_code == 409 and not dead:
            from execution_plane.hooks.http import ProviderError

            raise ProviderError(self.system, 409, resp.text, retryable=False)
        return body
