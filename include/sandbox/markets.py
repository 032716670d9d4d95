"""The users of a market, as the product's own systems (feature flags, user notifications, product metrics)
know them: a fixed population per country code, so every stand-in agrees on who is in a market and who a
rollout share reaches."""

from __future__ import annotations

import hashlib
import math

USERS_PER_MARKET = 100
#: Sessions each exposed user has in a metrics window (what the canary's sample size counts).
SESSIONS_PER_USER = 50


def market_users(market: str) -> list[str]:
    code = market.strip().lower()
    return [f"usr-{code}-{number:03d}" for number in range(1, USERS_PER_MARKET + 1)]


def bucket(flag_key: str, user_id: str) -> int:
    """Where the flag places a user (0-9999): stable per flag, as flag providers hash users into a rollout."""
    return int(hashlib.sha256(f"{flag_key}\x1f{user_id}".encode()).hexdigest()[:8], 16) % 10_000


def users_in_share(flag_key: str, market: str, share_pct: int) -> list[str]:
    """The users a rollout of ``share_pct`` % of ``market`` reaches: the flag's lowest buckets, so a wider
    share always contains a narrower one and ``share_pct`` % of the population is reached (rounded up)."""
    if share_pct <= 0:
        return []
    users = sorted(market_users(market), key=lambda user: (bucket(flag_key, user), user))
    return sorted(users[: math.ceil(len(users) * min(share_pct, 100) / 100)])
