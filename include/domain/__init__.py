"""Pure business logic of the Execution Plane workflows.

Nothing under this package imports Airflow (a test enforces it): DAGs and operators call these
functions, never the reverse, so the rules can be unit-tested and reused outside the scheduler.
Every function is deterministic: time always comes in as an argument, never from ``now()``,
because Airflow retries and re-runs must reproduce the same documents, hashes and decisions.

Packages:
    common                Message, canonical_json, sha256_hex (shared helpers)
    approval_token        approval tokens: issue_token / verify_token (signature_commitment and its parents)
    documents             deterministic PDF rendering (fpdf2, Arabic shaping)
    partner_approval      fit score, term sheet, negotiation, partner messages
    dd_room               workstream analyzers, risk register, valuation impact, IC memo
    signature_commitment  approval tokens, evidence packs, signature notices
"""
