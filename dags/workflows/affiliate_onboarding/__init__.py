"""affiliate_onboarding: an affiliate's application evaluated, decided (by rule, or by a person between the
thresholds), provisioned on the affiliate platform and the payout provider, activated once the provider has
verified the payout details, and welcomed; deprovisioned, newest first, when it ends badly after provisioning.

``dag.py`` wires the story, by concern: ``application`` (the input checked, the application recorded),
``evaluation`` (sanctions screening, trust score, the decision and its bad endings), ``provisioning``
(account, tracking links, payout profile, the payout set-up email, each with its undo; the provider's
verification; activation and the welcome), ``common`` (names and small helpers), ``domain`` (application,
evaluation rules, messages: no Airflow).
"""

from __future__ import annotations
