"""Feature flags: a flag per launch, its rollout per market (on/off, share of users), and who saw it on."""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderHook


class FlagsHook(ProviderHook):
    system = "flags"
    default_conn_name = "flags_default"
    hook_name = "Feature flags"

    def create_flag(self, flag_key: str, *, description: str, idempotency_key: str) -> dict[str, Any]:
        """Create the flag, off everywhere (creating it again is a no-op)."""
        return self.json(
            "PUT", f"/flags/{flag_key}", json={"description": description}, idempotency_key=idempotency_key
        )

    def get_flag(self, flag_key: str) -> dict[str, Any]:
        return self.json("GET", f"/flags/{flag_key}")

    def set_rollout(
        self, flag_key: str, market: str, *, enabled: bool, rollout_pct: int, idempotency_key: str
    ) -> dict[str, Any]:
        """On for ``rollout_pct`` % of ``market``'s users, or off (``enabled=False``)."""
        return self.json(
            "PUT",
            f"/flags/{flag_key}/markets/{market}",
            json={"enabled": enabled, "rollout_pct": rollout_pct if enabled else 0},
            idempotency_key=idempotency_key,
        )

    def exposures(self, flag_key: str, market: str) -> list[str]:
        """Every user of ``market`` who has seen the flag on (never forgotten, also after it is off)."""
        body = self.json("GET", f"/flags/{flag_key}/exposures", params={"market": market})
        return [str(user["user_id"]) for user in body.get("users", [])]
