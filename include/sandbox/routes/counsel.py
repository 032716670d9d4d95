"""Legal counsel (outside law firm): offer documents reviewed, a legal opinion or a change request back by
signed webhook to ``{base}/events/counsel``, the engagement cancelled when the deal is off
(``reviews.py``)."""

from __future__ import annotations

from include.sandbox.routes.reviews import review_routes

router, control_router = review_routes("counsel", id_prefix="crv")
