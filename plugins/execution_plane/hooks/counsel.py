"""Legal counsel (outside law firm): documents reviewed, a legal opinion or a change request back."""

from __future__ import annotations

from execution_plane.hooks.reviews import ReviewHook


class CounselHook(ReviewHook):
    system = "counsel"
    default_conn_name = "counsel_default"
    hook_name = "Legal counsel"
