"""The affiliate platform (accounts and tracking links, an Impact/PartnerStack stand-in) and the payout
provider (payout profiles, a Tipalti/Stripe Connect stand-in): two systems, each with its own idempotency
scope and effect log.

Platform: an account starts ``pending`` and goes live when activated; one open account per email (409
``account_exists``). A link set is the account's tracking links, one per destination. Closing an account or
deactivating a link set is final (409 ``already_closed`` / ``already_deactivated`` the second time).

Payouts: a payout profile is created ``verifying``: the affiliate gives their bank or PayPal details to the
provider itself (its onboarding link), and the provider verifies them (KYC) later:
``/_sandbox/payouts/profiles/{id}/verify|reject`` plays the provider and sends the signed
``payout_profile.verified`` / ``payout_profile.rejected`` webhook to ``{base}/events/payouts`` with the
profile's correlation key. Removing a profile ends it (409 ``already_removed``).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.provider_acts import settle_and_tell
from include.sandbox.state import new_id, stable_id, utc_now_iso

platform_router = provider_router("affiliates", "/affiliates/v1")
payouts_router = provider_router("payouts", "/payouts/v1")
control_router = APIRouter(prefix="/_sandbox/payouts", tags=["sandbox control"])

EVENTS_PATH = "/events/payouts"
PayoutAction = Literal["verify", "reject"]
_TARGET_STATUS = {"verify": "verified", "reject": "rejected"}


def _get(resources: dict[str, dict[str, Any]], kind: str, item_id: str, what: str) -> dict[str, Any]:
    item = resources[kind].get(item_id)
    if item is None:
        raise ProviderError(404, f"{what}_not_found", f"{what} {item_id} not found", id=item_id)
    return item


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


# ----------------------------------------------------------------------------------------------- platform
class AccountIn(BaseModel):
    reference: str = Field(min_length=1, max_length=300)
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    company: str | None = Field(default=None, max_length=200)
    website: str | None = Field(default=None, max_length=300)
    commission_plan: str = Field(min_length=1, max_length=100)


class LinkSetIn(BaseModel):
    campaign: str = Field(min_length=1, max_length=100)
    destinations: list[str] = Field(min_length=1, max_length=20)


@platform_router.post("/accounts", status_code=201)
def create_account(body: AccountIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        for account in resources["affiliate_accounts"].values():
            if account["email"].lower() == body.email.lower() and account["status"] != "closed":
                raise ProviderError(
                    409,
                    "account_exists",
                    f"an open account already uses {body.email}",
                    account_id=account["account_id"],
                )
        account = {
            "account_id": new_id("aff"),
            **body.model_dump(),
            "status": "pending",
            "created_at": utc_now_iso(),
            "activated_at": None,
            "closed_at": None,
            "close_reason": None,
        }
        resources["affiliate_accounts"][account["account_id"]] = account
        call.record(account["account_id"], body.model_dump())
    return {"account_id": account["account_id"], "status": "pending"}


@platform_router.get("/accounts/{account_id}")
def get_account(account_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_get(resources, "affiliate_accounts", account_id, "account"))


@platform_router.post("/accounts/{account_id}/activate")
def activate_account(account_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        account = _get(resources, "affiliate_accounts", account_id, "account")
        if account["status"] == "closed":
            raise ProviderError(409, "account_closed", "the account is closed", id=account_id)
        if account["status"] == "active":
            return {"account_id": account_id, "status": "active", "changed": False}
        account.update(status="active", activated_at=utc_now_iso())
        call.record(account_id, {"status": "active"})
        return {"account_id": account_id, "status": "active", "changed": True}


@platform_router.post("/accounts/{account_id}/close")
def close_account(account_id: str, body: ReasonIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        account = _get(resources, "affiliate_accounts", account_id, "account")
        if account["status"] == "closed":
            raise ProviderError(409, "already_closed", "the account is closed already", id=account_id)
        account.update(status="closed", closed_at=utc_now_iso(), close_reason=body.reason)
        call.record(account_id, body.model_dump())
        return {"account_id": account_id, "status": "closed"}


@platform_router.post("/accounts/{account_id}/link-sets", status_code=201)
def create_links(account_id: str, body: LinkSetIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        account = _get(resources, "affiliate_accounts", account_id, "account")
        if account["status"] == "closed":
            raise ProviderError(409, "account_closed", "the account is closed", id=account_id)
        link_set_id = new_id("lks")
        links = [
            {
                "link_id": stable_id("lnk", link_set_id, n),
                "destination": destination,
                "url": f"https://go.affiliates.example/{stable_id('t', link_set_id, n)[2:14]}",
            }
            for n, destination in enumerate(body.destinations)
        ]
        link_set = {
            "link_set_id": link_set_id,
            "account_id": account_id,
            "campaign": body.campaign,
            "links": links,
            "status": "active",
            "deactivated_at": None,
        }
        resources["link_sets"][link_set_id] = link_set
        call.record(link_set_id, {"account_id": account_id, **body.model_dump()})
        return copy.deepcopy(link_set)


@platform_router.get("/link-sets/{link_set_id}")
def get_links(link_set_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_get(resources, "link_sets", link_set_id, "link_set"))


@platform_router.post("/link-sets/{link_set_id}/deactivate")
def deactivate_links(link_set_id: str, body: ReasonIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        link_set = _get(resources, "link_sets", link_set_id, "link_set")
        if link_set["status"] == "deactivated":
            raise ProviderError(
                409, "already_deactivated", "the links are deactivated already", id=link_set_id
            )
        link_set.update(status="deactivated", deactivated_at=utc_now_iso(), reason=body.reason)
        call.record(link_set_id, body.model_dump())
        return {"link_set_id": link_set_id, "status": "deactivated"}


# ----------------------------------------------------------------------------------------------- payouts
class ProfileIn(BaseModel):
    account_ref: str = Field(min_length=1, max_length=300)
    holder_name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    method: Literal["bank_transfer", "paypal"]
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    correlation_key: str = Field(min_length=1, max_length=300)


@payouts_router.post("/profiles", status_code=201)
def create_profile(body: ProfileIn, call: CallDep) -> dict[str, Any]:
    profile = {
        "profile_id": new_id("pyp"),
        **body.model_dump(),
        "status": "verifying",
        "created_at": utc_now_iso(),
        "verified_at": None,
        "rejected_at": None,
        "removed_at": None,
        "reason": None,
    }
    profile["onboarding_url"] = f"https://payouts.example/onboard/{profile['profile_id']}"
    with call.state.transaction() as resources:
        resources["payout_profiles"][profile["profile_id"]] = profile
        call.record(profile["profile_id"], body.model_dump())
    return {
        "profile_id": profile["profile_id"],
        "status": "verifying",
        "onboarding_url": profile["onboarding_url"],
    }


@payouts_router.get("/profiles/{profile_id}")
def get_profile(profile_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_get(resources, "payout_profiles", profile_id, "profile"))


@payouts_router.post("/profiles/{profile_id}/remove")
def remove_profile(profile_id: str, body: ReasonIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        profile = _get(resources, "payout_profiles", profile_id, "profile")
        if profile["status"] == "removed":
            raise ProviderError(409, "already_removed", "the profile is removed already", id=profile_id)
        profile.update(status="removed", removed_at=utc_now_iso(), reason=body.reason)
        call.record(profile_id, body.model_dump())
        return {"profile_id": profile_id, "status": "removed"}


def profile_event(profile: dict[str, Any]) -> dict[str, Any]:
    """The webhook of the profile's verification outcome; a stable id, so a redelivery is recognisable."""
    status = profile["status"]
    return {
        "event_id": stable_id("evt", "payouts", profile["profile_id"], status),
        "type": f"payout_profile.{status}",
        "correlation_key": profile["correlation_key"],
        "payload": {"profile_id": profile["profile_id"], "status": status, "reason": profile["reason"]},
        "occurred_at": profile["verified_at"] if status == "verified" else profile["rejected_at"],
    }


class VerifyIn(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


@control_router.post("/profiles/{profile_id}/{action}")
def act_as_provider(
    profile_id: str,
    action: PayoutAction,
    request: Request,
    body: VerifyIn | None = None,
    deliver: bool = True,
    wait: bool = True,
) -> dict[str, Any]:
    """The provider verifies or rejects the affiliate's payout details; repeating redelivers the webhook."""
    return settle_and_tell(
        request,
        key="profile",
        noun="profile",
        resource_id=profile_id,
        get=lambda resources: _get(resources, "payout_profiles", profile_id, "profile"),
        waiting="verifying",
        action=action,
        target=_TARGET_STATUS[action],
        refused="rejected",
        reason=(body.reason if body else None) or "account holder name does not match",
        event_of=profile_event,
        events_path=EVENTS_PATH,
        deliver=deliver,
        wait=wait,
    )
