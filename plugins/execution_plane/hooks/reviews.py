"""What an outside reviewer's API looks like (legal counsel, financial advisors): a document sent for review
once, read back, the engagement cancelled. The answer, an opinion or a change request, comes by signed
webhook (``/webhooks/events/<system>``: ``review.opinion_issued`` / ``review.changes_requested``)."""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderError, ProviderHook

REVIEW_EVENT_TYPES = ("review.opinion_issued", "review.changes_requested")


class ReviewHook(ProviderHook):
    """A reviewer firm's review API; subclasses name the system and its connection."""

    def request_review(
        self,
        *,
        matter: str,
        subject: str,
        document_sha256: str,
        document_uri: str,
        correlation_key: str,
        idempotency_key: str,
        instructions: str = "",
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Ask once: the same ``idempotency_key`` replays the first answer (``review_id``)."""
        return self.json(
            "POST",
            "/reviews",
            json={
                "matter": matter,
                "subject": subject,
                "document_sha256": document_sha256,
                "document_uri": document_uri,
                "instructions": instructions,
                "details": details or {},
                "correlation_key": correlation_key,
            },
            idempotency_key=idempotency_key,
        )

    def get_review(self, review_id: str) -> dict[str, Any]:
        return self.json("GET", f"/reviews/{review_id}")

    def cancel_review(self, review_id: str, *, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Cancelling a review that is already cancelled or already answered is success: the firm is no
        longer working on it, which is all the undo is for."""
        resp = self.request(
            "POST",
            f"/reviews/{review_id}/cancel",
            json={"reason": reason},
            idempotency_key=idempotency_key,
            accept=(409,),
        )
        body: dict[str, Any] = resp.json()
        if resp.status_code == 409 and body.get("error") not in ("already_cancelled", "review_closed"):
            raise ProviderError(self.system, 409, resp.text, retryable=False)
        return body
