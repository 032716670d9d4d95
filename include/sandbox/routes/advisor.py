"""Financial advisors (investment bank): the offer's price and structure reviewed, a fairness opinion or a
change request back by signed webhook to ``{base}/events/advisor``, the engagement cancelled when the deal
is off (``reviews.py``)."""

from __future__ import annotations

from include.sandbox.routes.reviews import review_routes

router, control_router = review_routes("advisor", id_prefix="arv")
