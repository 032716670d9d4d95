"""The spec's facts (../shared/spec/workflow-inventory.md) and the Temporal Candidate Rule applied to them by
hand, written out independently of the catalog's code: a transcription error in the inventory or a bug in the
rule makes the catalog disagree with this table.

Where the spec leaves a fact implicit, the reading is the one the inventory's record notes (e.g. lead
scoring's "LLM call" reaches the LLM provider; a meeting booked or an affiliate answered by email is a
message to an outside party).
"""

from __future__ import annotations

from dataclasses import dataclass

from execution_plane.catalog import Criterion, WorkflowClass

SHORT = WorkflowClass.SHORT_LIVED_LOCAL
MEDIUM = WorkflowClass.MEDIUM_LIVED_ORCHESTRATED
LONG = WorkflowClass.LONG_LIVED_DURABLE

DAYS = Criterion.SPANS_DAYS
SYSTEMS = Criterion.EXTERNAL_SYSTEMS
UNDO = Criterion.COMPENSATION
PERSON = Criterion.HUMAN_APPROVAL
COMMITS = Criterion.EXTERNAL_COMMITMENT
OVER_30S = Criterion.OVER_30_SECONDS
IO = Criterion.EXTERNAL_IO
QUICK = Criterion.QUICK_AND_LOCAL


@dataclass(frozen=True)
class Spec:
    table: WorkflowClass
    """The spec table the workflow is listed in."""
    duration: str
    """The duration as the catalog writes the spec's figure."""
    external_systems: tuple[str, ...]
    compensation: tuple[str, ...]
    runs_as: WorkflowClass
    """The rule applied by hand: durable if any durable criterion holds, else medium if over 30 s or any
    external I/O, else short."""
    criteria: tuple[Criterion, ...]
    """Every criterion that holds, in the rule's order."""


SPEC: dict[str, Spec] = {
    # Short-lived local table: durations only; no external I/O column, no compensation.
    "lead_scoring": Spec(SHORT, "<5s", ("LLM provider",), (), MEDIUM, (IO,)),
    "message_classification": Spec(SHORT, "<2s", (), (), SHORT, (QUICK,)),
    "dialect_detection": Spec(SHORT, "<1s", (), (), SHORT, (QUICK,)),
    "knowledge_retrieval": Spec(SHORT, "<3s", (), (), SHORT, (QUICK,)),
    "dashboard_aggregation": Spec(SHORT, "<5s", (), (), SHORT, (QUICK,)),
    "health_check": Spec(SHORT, "<1s", (), (), SHORT, (QUICK,)),
    "trust_score_calculation": Spec(SHORT, "<5s", (), (), SHORT, (QUICK,)),
    "audit_log_write": Spec(SHORT, "<1s", (), (), SHORT, (QUICK,)),
    # Medium-lived orchestrated table: its "External I/O" column.
    "lead_qualification_pipeline": Spec(
        MEDIUM, "1-5 min", ("Company research APIs",), (), MEDIUM, (OVER_30S, IO)
    ),
    "multi_channel_outreach_sequence": Spec(
        MEDIUM, "1 hour-2 days", ("WhatsApp", "Email", "SMS"), (), LONG, (DAYS, SYSTEMS, COMMITS)
    ),
    "meeting_booking_flow": Spec(MEDIUM, "2-10 min", ("Cal.com API",), (), LONG, (COMMITS,)),
    "proposal_generation": Spec(MEDIUM, "5-15 min", ("LLM provider",), (), MEDIUM, (OVER_30S, IO)),
    "affiliate_onboarding": Spec(MEDIUM, "10-30 min", ("Email notifications",), (), LONG, (COMMITS,)),
    "compliance_scan": Spec(MEDIUM, "2-5 min", (), (), MEDIUM, (OVER_30S,)),
    "evidence_pack_assembly": Spec(MEDIUM, "1-5 min", (), (), MEDIUM, (OVER_30S,)),
    "contradiction_scan": Spec(MEDIUM, "5-30 min", ("LLM provider",), (), MEDIUM, (OVER_30S, IO)),
    # Long-lived durable: each workflow's attribute table.
    "partner_approval": Spec(
        LONG,
        "1-14 days",
        ("Email", "WhatsApp", "CRM", "eSign"),
        ("Retract term sheet", "Notify partner of rejection"),
        LONG,
        (DAYS, SYSTEMS, UNDO, PERSON, COMMITS),
    ),
    "dd_room": Spec(
        LONG,
        "2-8 weeks",
        ("Document storage", "financial APIs", "legal review tools"),
        ("Terminate DD", "Notify target", "Archive room"),
        LONG,
        (DAYS, SYSTEMS, UNDO, PERSON),
    ),
    "signature_commitment": Spec(
        LONG,
        "1-7 days",
        ("DocuSign/Adobe Sign", "Email", "CRM"),
        ("Void signature request", "Notify parties"),
        LONG,
        (DAYS, SYSTEMS, UNDO, COMMITS),
    ),
    "ma_offer_negotiation": Spec(
        LONG,
        "2-12 weeks",
        ("Legal counsel", "financial advisors", "regulatory"),
        ("Withdraw offer", "Regulatory withdrawal", "Archive"),
        LONG,
        (DAYS, SYSTEMS, UNDO, PERSON, COMMITS),
    ),
    "geographic_expansion_launch": Spec(
        LONG,
        "4-12 weeks",
        ("Regulatory bodies", "local partners", "infrastructure"),
        ("Roll back canary", "Disable market", "Notify users"),
        LONG,
        (DAYS, SYSTEMS, UNDO, PERSON),
    ),
    "pmi_program_execution": Spec(
        LONG,
        "3-6 months",
        ("HR", "finance", "IT", "legal", "CRM"),
        ("Rollback integration steps", "Separate entities"),
        LONG,
        (DAYS, SYSTEMS, UNDO, PERSON),
    ),
}

# The rows whose class by the rule is not the table the spec lists them in, in the spec's order.
DISAGREEING = [
    "lead_scoring",
    "multi_channel_outreach_sequence",
    "meeting_booking_flow",
    "affiliate_onboarding",
]

# The project's supporting DAGs (not workflows of the inventory), in the order `make catalog` lists them.
SUPPORTING_KEYS = [
    "saga_compensation",
    "saga_reconciler",
    "approval_reminders",
    "esign_status_poller",
    "ma_offer_filing_poller",
]
