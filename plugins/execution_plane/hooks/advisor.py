"""Financial advisors (investment bank): price and structure reviewed, a fairness opinion or a change
request back."""

from __future__ import annotations

from execution_plane.hooks.reviews import ReviewHook


class AdvisorHook(ReviewHook):
    system = "advisor"
    default_conn_name = "advisor_default"
    hook_name = "Financial advisor"
