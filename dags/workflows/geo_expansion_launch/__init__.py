"""geo_expansion_launch: a new market, from readiness through the regulator, local partners, infrastructure
and a canary to the full launch.

``dag.py`` wires the story, by concern: ``readiness`` (the launch recorded, the checklist judged),
``regulatory`` (the market-entry filing and the regulator's decision), ``contracts`` (each local partner's
contract through ``signature_commitment`` as a child run), ``infrastructure`` (region, tenant, payment
account, messaging number), ``canary`` (market enabled behind a flag, metrics windows, guardrails), ``scale``
(the launch lead's scale decision), ``launch`` (full launch, users told), ``common`` (names and small
helpers), ``domain`` (plan, readiness, guardrails, rollout, messages: no Airflow).
"""

from __future__ import annotations
