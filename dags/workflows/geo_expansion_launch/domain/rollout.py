"""The rollout after the canary: each evaluation round ends with the launch lead's scale decision.

Round 1 is the canary at the plan's first share. A decision to **widen** moves to the plan's next share for
another metrics window and another decision; past the plan's last share, or in the last round there is,
widening is the full launch (100 %). A decision to **hold** keeps the share for another window (only while a
round is left). Rolling back (or no answer) ends the launch and never reaches these rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FULL_SHARE = 100


@dataclass(frozen=True)
class NextShare:
    """Where a decision leads: another window at ``share_pct``, or the full launch."""

    full_launch: bool
    share_pct: int
    widened: bool

    @property
    def route(self) -> str:
        return "full_launch" if self.full_launch else "next_window"


def next_share(steps_pct: Sequence[int], current_pct: int, *, widen: bool, last_round: bool) -> NextShare:
    """The share after widening (``widen``) or holding at ``current_pct``; ``last_round``: no round is left
    after this one."""
    if not widen:
        if last_round:
            raise ValueError("no hold in the last round: no round is left to hold for")
        return NextShare(full_launch=False, share_pct=current_pct, widened=False)
    larger = [pct for pct in steps_pct if pct > current_pct]
    if not larger or last_round:
        return NextShare(full_launch=True, share_pct=FULL_SHARE, widened=True)
    return NextShare(full_launch=False, share_pct=larger[0], widened=True)
