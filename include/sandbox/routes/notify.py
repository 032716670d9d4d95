"""User notifications (a push / in-app messaging platform stand-in): a campaign sent to user ids or to every
user of a market, each user notified at most once per campaign whatever the retries."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from include.sandbox.markets import market_users
from include.sandbox.provider import CallDep, provider_router
from include.sandbox.state import utc_now_iso

router = provider_router("notify", "/notify/v1")


class Audience(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[str] | None = Field(default=None, max_length=100_000)
    market: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")

    @model_validator(mode="after")
    def one_kind(self) -> Audience:
        if (self.user_ids is None) == (self.market is None):
            raise ValueError("give either user_ids or market")
        return self


class NotificationIn(BaseModel):
    campaign_id: str = Field(min_length=1, max_length=300)
    audience: Audience
    template: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4000)


def _sent(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return resources.setdefault("notifications", {})


@router.post("/notifications", name="notify_user")
def send_notifications(body: NotificationIn, call: CallDep) -> dict[str, Any]:
    """One notification per user of the audience not yet notified in this campaign; effect per user."""
    audience = body.audience
    users = market_users(audience.market) if audience.market else sorted(set(audience.user_ids or []))
    fresh = 0
    with call.state.transaction() as resources:
        sent = _sent(resources)
        for user in users:
            key = f"{body.campaign_id}\x1f{user}"
            if key in sent:
                continue
            sent[key] = {
                "campaign_id": body.campaign_id,
                "user_id": user,
                "template": body.template,
                "title": body.title,
                "sent_at": utc_now_iso(),
            }
            call.record(
                user, {"campaign_id": body.campaign_id, "template": body.template, "title": body.title}
            )
            fresh += 1
    return {
        "campaign_id": body.campaign_id,
        "recipients": len(users),
        "notified": fresh,
        "already_notified": len(users) - fresh,
    }


@router.get("/notifications")
def list_notifications(
    call: CallDep, campaign_id: str | None = None, user_id: str | None = None
) -> dict[str, Any]:
    with call.state.view() as resources:
        found = [
            dict(record)
            for record in _sent(resources).values()
            if (campaign_id is None or record["campaign_id"] == campaign_id)
            and (user_id is None or record["user_id"] == user_id)
        ]
    return {"count": len(found), "notifications": found}
