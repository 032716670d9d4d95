"""lead_qualification: new CRM leads enriched, scored, routed to an owner, handed over (CRM once, owner told).

``dag.py`` wires the story; ``capture`` checks the leads and records them; ``enrichment`` the company
research and financial data (cached per company, rate limits honoured, partial data allowed); ``steps`` the
scoring, routing and hand-over; ``domain`` the rules (lead facts, enrichment merge, routing), no Airflow.
"""

from __future__ import annotations
