"""dd_room: a due-diligence room with five parallel workstreams, lead sign-offs, an IC memo and review.

``dag.py`` wires the story; ``steps`` the initiation and the workstreams, ``review`` what follows the
sign-offs; ``domain`` the analysis, register, valuation and memo rules (no Airflow).
"""

from __future__ import annotations
