"""User notifications (push / in-app): a campaign to user ids or to a whole market, once per user."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from execution_plane.hooks.http import ProviderHook


class NotifyHook(ProviderHook):
    system = "notify"
    default_conn_name = "notify_default"
    hook_name = "User notifications"

    def notify(
        self,
        campaign_id: str,
        *,
        title: str,
        body: str,
        template: str,
        idempotency_key: str,
        user_ids: Sequence[str] | None = None,
        market: str | None = None,
    ) -> dict[str, Any]:
        """Notify ``user_ids`` or every user of ``market``; a user already notified in ``campaign_id`` is
        not notified again (the platform's own dedup, beside the idempotency key of the call)."""
        if (user_ids is None) == (market is None):
            raise ValueError("notify user_ids or a market, not both")
        audience: dict[str, Any] = {"market": market} if market else {"user_ids": sorted(set(user_ids or []))}
        return self.json(
            "POST",
            "/notifications",
            json={
                "campaign_id": campaign_id,
                "audience": audience,
                "template": template,
                "title": title,
                "body": body,
            },
            idempotency_key=idempotency_key,
        )

    def sent(self, campaign_id: str) -> list[dict[str, Any]]:
        return list(self.json("GET", "/notifications", params={"campaign_id": campaign_id})["notifications"])
