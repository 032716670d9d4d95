"""Feature flags (a LaunchDarkly-like stand-in): a flag per launch, its rollout per market (on/off and the
share of the market's users it reaches), and who has seen the flag on (exposures).

A user in a rollout's share is counted as exposed when the rollout is set (the sandbox assumes every user in
the share opens the app during the rollout); exposures are never forgotten, so turning the flag off still
tells whom to inform. Setting a rollout to what it already is changes nothing and logs no effect.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from include.sandbox.markets import users_in_share
from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.state import utc_now_iso

router = provider_router("flags", "/flags/v1")

FLAG_KEY = r"^[a-z0-9][a-z0-9._-]{0,99}$"


class FlagIn(BaseModel):
    description: str = Field(min_length=1, max_length=500)


class RolloutIn(BaseModel):
    enabled: bool
    rollout_pct: int = Field(ge=0, le=100)


def _flags(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return resources.setdefault("flags", {})


def _flag(resources: dict[str, dict[str, Any]], flag_key: str) -> dict[str, Any]:
    flag = _flags(resources).get(flag_key)
    if flag is None:
        raise ProviderError(404, "flag_not_found", f"flag {flag_key} not found", flag_key=flag_key)
    return flag


def current_share(resources: dict[str, dict[str, Any]], flag_key: str, market: str) -> int:
    """The share of ``market`` the flag is on for now (0 when off or unknown): what product metrics see."""
    rule = _flags(resources).get(flag_key, {}).get("markets", {}).get(market)
    return int(rule["rollout_pct"]) if rule and rule["enabled"] else 0


def exposed_users(resources: dict[str, dict[str, Any]], flag_key: str, market: str) -> list[str]:
    return sorted(_flags(resources).get(flag_key, {}).get("exposures", {}).get(market, {}))


@router.put("/flags/{flag_key}")
def create_flag(flag_key: str, body: FlagIn, call: CallDep) -> JSONResponse:
    """Create the flag, off everywhere; creating it again changes nothing (200, no effect)."""
    _valid_key(flag_key)
    with call.state.transaction() as resources:
        flags = _flags(resources)
        if flag_key in flags:
            return JSONResponse({"flag_key": flag_key, "created": False}, 200)
        flags[flag_key] = {
            "flag_key": flag_key,
            "description": body.description,
            "markets": {},
            "exposures": {},
            "created_at": utc_now_iso(),
        }
        call.record(flag_key, body.model_dump())
    return JSONResponse({"flag_key": flag_key, "created": True}, 201)


@router.get("/flags/{flag_key}")
def get_flag(flag_key: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        flag = copy.deepcopy(_flag(resources, flag_key))
    flag["exposures"] = {market: len(users) for market, users in flag["exposures"].items()}
    return flag


@router.put("/flags/{flag_key}/markets/{market}")
def set_rollout(flag_key: str, market: str, body: RolloutIn, call: CallDep) -> dict[str, Any]:
    """Turn the flag on for ``rollout_pct`` % of ``market``'s users, or off; whom it reaches is exposed."""
    code = market.upper()
    with call.state.transaction() as resources:
        flag = _flag(resources, flag_key)
        rule = flag["markets"].get(code)
        wanted = {"enabled": body.enabled, "rollout_pct": body.rollout_pct if body.enabled else 0}
        if rule is None or {k: rule[k] for k in wanted} != wanted:
            flag["markets"][code] = {**wanted, "updated_at": utc_now_iso()}
            seen = flag["exposures"].setdefault(code, {})
            now = utc_now_iso()
            for user in users_in_share(flag_key, code, wanted["rollout_pct"]):
                seen.setdefault(user, now)
            call.record(flag_key, {"market": code, **wanted})
        return {
            "flag_key": flag_key,
            "market": code,
            **wanted,
            "reached_users": len(users_in_share(flag_key, code, wanted["rollout_pct"])),
            "exposed_users": len(flag["exposures"].get(code, {})),
        }


@router.get("/flags/{flag_key}/exposures")
def list_exposures(flag_key: str, market: str, call: CallDep) -> dict[str, Any]:
    """Every user of ``market`` who has seen the flag on, first exposure first."""
    code = market.upper()
    with call.state.view() as resources:
        seen = dict(_flag(resources, flag_key)["exposures"].get(code, {}))
    users = [{"user_id": user, "first_exposed_at": at} for user, at in sorted(seen.items())]
    return {"flag_key": flag_key, "market": code, "count": len(users), "users": users}


def _valid_key(flag_key: str) -> None:
    import re

    if not re.fullmatch(FLAG_KEY, flag_key):
        raise ProviderError(422, "invalid_flag_key", f"flag keys match {FLAG_KEY}", flag_key=flag_key)
