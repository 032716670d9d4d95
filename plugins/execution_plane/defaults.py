"""DAG-wide defaults every workflow shares: owner, retries with exponential backoff, tags.

Every DAG file imports this module while it is parsed, so it imports nothing beyond the standard library at
import time (the retry delay reads the Task SDK's config, already loaded where a DAG is parsed).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

OWNER = "execution-plane"
# The start date of every workflow DAG built by a factory (none is scheduled for a date before it).
START_DATE = datetime(2026, 1, 1)

# The class the Temporal Candidate Rule gives each implemented workflow (execution_plane.catalog), written
# down here: importing the catalog to compute it cost every DAG parse 15-45 ms. tests/plugins/test_defaults.py
# keeps this table equal to the rule's verdicts, and tests/dags checks every DAG carries its tag.
CLASS_TAGS: dict[str, str] = {
    "partner_approval": "class:long-lived-durable",
    "dd_room": "class:long-lived-durable",
    "signature_commitment": "class:long-lived-durable",
    "ma_offer": "class:long-lived-durable",
    "geo_expansion_launch": "class:long-lived-durable",
    "outreach_sequence": "class:long-lived-durable",
    "meeting_booking": "class:long-lived-durable",
    "pmi_program": "class:long-lived-durable",
    "affiliate_onboarding": "class:long-lived-durable",
    "lead_qualification": "class:medium-lived-orchestrated",
    "proposal_generation": "class:medium-lived-orchestrated",
    "saga_compensation": "class:long-lived-durable",
    "evidence_pack": "class:medium-lived-orchestrated",
    "compliance_scan": "class:medium-lived-orchestrated",
    "contradiction_scan": "class:medium-lived-orchestrated",
    "esign_status_poller": "class:medium-lived-orchestrated",
    "ma_offer_filing_poller": "class:medium-lived-orchestrated",
    "health_check": "class:short-lived-local",
    "message_classification": "class:short-lived-local",
    "dialect_detection": "class:short-lived-local",
    "knowledge_retrieval": "class:short-lived-local",
    "lead_scoring": "class:medium-lived-orchestrated",
    "dashboard_aggregation": "class:short-lived-local",
    "trust_score_calculation": "class:short-lived-local",
    "audit_log_write": "class:short-lived-local",
    "saga_reconciler": "class:short-lived-local",
    "approval_reminders": "class:medium-lived-orchestrated",
}


DEFAULT_RETRY_DELAY_S = 10.0


def default_args(**overrides: Any) -> dict[str, Any]:
    """Retries are for transient faults only: every side effect is idempotent, so a retry is safe. The first
    retry waits ``[execution_plane] retry_delay`` seconds (10), each next one twice as long, up to 10
    minutes."""
    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": 3,
        "retry_delay": timedelta(seconds=first_retry_delay_s()),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    }
    args.update(overrides)
    return args


def first_retry_delay_s() -> float:
    """``[execution_plane] retry_delay``: read from Airflow's config by the process parsing the DAG (the Task
    SDK's config: already loaded in every Airflow process, so the import costs a parse nothing)."""
    from airflow.sdk.configuration import conf

    return conf.getfloat("execution_plane", "retry_delay", fallback=DEFAULT_RETRY_DELAY_S)


def tags_for(dag_id: str, *extra: str) -> list[str]:
    """The DAG's inventory class tag first, so the UI filters workflows by class."""
    try:
        tag = CLASS_TAGS[dag_id]
    except KeyError:
        raise KeyError(
            f"no workflow implemented by dag_id {dag_id!r} in the inventory: catalogue it "
            "(execution_plane.catalog) and add its class to execution_plane.defaults.CLASS_TAGS"
        ) from None
    return [tag, *extra]
