"""The 22 workflows of spec/workflow-inventory.md, with their facts transcribed from the spec.

Each record carries the class of the spec table it is listed in (``spec_class``); the class it runs as is the
rule's (``workflow_class``), because the spec makes the Temporal Candidate Rule binding over its tables.
Where a fact had to be read from a step name rather than a column, the record's ``note`` says how.
"""

from __future__ import annotations

from execution_plane.catalog.model import (
    DAY,
    HOUR,
    MINUTE,
    MONTH,
    SECOND,
    WEEK,
    Duration,
    PausePoint,
    WaitsOn,
    WorkflowClass,
)
from execution_plane.catalog.record import WorkflowRecord

_SHORT = WorkflowClass.SHORT_LIVED_LOCAL
_MEDIUM = WorkflowClass.MEDIUM_LIVED_ORCHESTRATED
_LONG = WorkflowClass.LONG_LIVED_DURABLE

_SHORT_LIVED: tuple[WorkflowRecord, ...] = (
    WorkflowRecord(
        key="lead_scoring",
        name="Lead scoring",
        spec_engine="Celery task",
        spec_class=_SHORT,
        duration=Duration.under(5 * SECOND),
        external_systems=("LLM provider",),
        steps=("LLM call", "score", "DB write"),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="lead_scoring",
        note=(
            "The short-lived table has no external I/O column. Its 'LLM call' step reaches the LLM provider, "
            "which the spec lists as external I/O for proposal generation and contradiction scan."
        ),
    ),
    WorkflowRecord(
        key="message_classification",
        name="Message classification",
        spec_engine="Sync",
        spec_class=_SHORT,
        duration=Duration.under(2 * SECOND),
        external_systems=(),
        steps=("NLP", "intent", "tag"),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="message_classification",
    ),
    WorkflowRecord(
        key="dialect_detection",
        name="Dialect detection",
        spec_engine="Sync",
        spec_class=_SHORT,
        duration=Duration.under(1 * SECOND),
        external_systems=(),
        steps=("Arabic NLP", "dialect label"),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="dialect_detection",
    ),
    WorkflowRecord(
        key="knowledge_retrieval",
        name="Knowledge retrieval",
        spec_engine="Sync",
        spec_class=_SHORT,
        duration=Duration.under(3 * SECOND),
        external_systems=(),
        steps=("pgvector search", "rank", "return"),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="knowledge_retrieval",
    ),
    WorkflowRecord(
        key="dashboard_aggregation",
        name="Dashboard aggregation",
        spec_engine="Sync",
        spec_class=_SHORT,
        duration=Duration.under(5 * SECOND),
        external_systems=(),
        steps=("Multi-query", "aggregate", "return"),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="dashboard_aggregation",
    ),
    WorkflowRecord(
        key="health_check",
        name="Health check",
        spec_engine="Sync",
        spec_class=_SHORT,
        duration=Duration.under(1 * SECOND),
        external_systems=(),
        steps=("Service probes", "status"),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="health_check",
    ),
    WorkflowRecord(
        key="trust_score_calculation",
        name="Trust score calculation",
        spec_engine="Celery task",
        spec_class=_SHORT,
        duration=Duration.under(5 * SECOND),
        external_systems=(),
        steps=("Factor aggregation", "score", "DB"),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="trust_score_calculation",
    ),
    WorkflowRecord(
        key="audit_log_write",
        name="Audit log write",
        spec_engine="Sync",
        spec_class=_SHORT,
        duration=Duration.under(1 * SECOND),
        external_systems=(),
        steps=("Event", "AuditLog insert"),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="audit_log_write",
    ),
)

_MEDIUM_LIVED: tuple[WorkflowRecord, ...] = (
    WorkflowRecord(
        key="lead_qualification_pipeline",
        name="Lead qualification pipeline",
        spec_engine="OpenClaw + Celery",
        spec_class=_MEDIUM,
        duration=Duration(1 * MINUTE, 5 * MINUTE),
        external_systems=("Company research APIs",),
        steps=("Capture", "enrich", "score", "route", "notify"),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="lead_qualification",
        note=(
            "'notify' follows 'route': it tells the owner the lead was routed to, inside the company, and "
            "the spec lists no messaging channel for it. 'Company research APIs' is one entry in the spec "
            "and counts as one external system."
        ),
    ),
    WorkflowRecord(
        key="multi_channel_outreach_sequence",
        name="Multi-channel outreach sequence",
        spec_engine="Sequence Engine",
        spec_class=_MEDIUM,
        # The spec says "Hours-days" without figures: 1 hour up to 2 days, the least that "days" can mean.
        duration=Duration(1 * HOUR, 2 * DAY),
        external_systems=("WhatsApp", "Email", "SMS"),
        steps=("Template", "personalize", "send", "wait", "follow-up"),
        pause_points=(PausePoint("wait", WaitsOn.TIME),),
        compensation=(),
        external_commitment=True,
        implementation="outreach_sequence",
        note=(
            "'Hours-days' is read as 1 hour to 2 days. 'send' and 'follow-up' deliver messages to prospects "
            "outside the company: an external commitment."
        ),
    ),
    WorkflowRecord(
        key="meeting_booking_flow",
        name="Meeting booking flow",
        spec_engine="Celery chain",
        spec_class=_MEDIUM,
        duration=Duration(2 * MINUTE, 10 * MINUTE),
        external_systems=("Cal.com API",),
        steps=("Propose times", "negotiate", "confirm", "calendar"),
        pause_points=(),
        compensation=(),
        external_commitment=True,
        implementation="meeting_booking",
        note=(
            "'Propose times', 'negotiate' and 'confirm' are messages to the attendee being booked, who is "
            "outside the company, and the confirmation commits the company to the meeting: an external "
            "commitment."
        ),
    ),
    WorkflowRecord(
        key="proposal_generation",
        name="Proposal generation",
        spec_engine="OpenClaw + Celery",
        spec_class=_MEDIUM,
        duration=Duration(5 * MINUTE, 15 * MINUTE),
        external_systems=("LLM provider",),
        steps=("Deal data", "LLM draft", "CPQ pricing", "PDF", "notify"),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="proposal_generation",
        note=(
            "The flow ends at a PDF and a 'notify' with no outside channel (its only external I/O is the LLM "
            "provider), so it tells the deal owner a draft is ready; sending the proposal to the customer is "
            "not one of its steps."
        ),
    ),
    WorkflowRecord(
        key="affiliate_onboarding",
        name="Affiliate onboarding",
        spec_engine="Celery chain",
        spec_class=_MEDIUM,
        duration=Duration(10 * MINUTE, 30 * MINUTE),
        external_systems=("Email notifications",),
        steps=("Application", "evaluate", "approve/reject", "provision"),
        pause_points=(),
        compensation=(),
        external_commitment=True,
        implementation="affiliate_onboarding",
        note=(
            "Its only external I/O, email notifications, tells the applicant (outside the company) whether "
            "they are approved or rejected: an external commitment. The spec does not say a person makes "
            "the approve/reject decision, so it is not counted as a human-approval pause."
        ),
    ),
    WorkflowRecord(
        key="compliance_scan",
        name="Compliance scan",
        spec_engine="OpenClaw",
        spec_class=_MEDIUM,
        duration=Duration(2 * MINUTE, 5 * MINUTE),
        external_systems=(),
        steps=("Iterate controls", "check each", "aggregate", "report"),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="compliance_scan",
    ),
    WorkflowRecord(
        key="evidence_pack_assembly",
        name="Evidence pack assembly",
        spec_engine="Celery task",
        spec_class=_MEDIUM,
        duration=Duration(1 * MINUTE, 5 * MINUTE),
        external_systems=(),
        steps=("Query 6+ tables", "aggregate", "hash", "store"),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="evidence_pack",
    ),
    WorkflowRecord(
        key="contradiction_scan",
        name="Contradiction scan",
        spec_engine="Celery task",
        spec_class=_MEDIUM,
        duration=Duration(5 * MINUTE, 30 * MINUTE),
        external_systems=("LLM provider",),
        steps=("Load docs", "LLM comparison", "flag conflicts"),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="contradiction_scan",
    ),
)

_LONG_LIVED: tuple[WorkflowRecord, ...] = (
    WorkflowRecord(
        key="partner_approval",
        name="Partner Approval Flow",
        spec_engine="Manual / partial OpenClaw",
        spec_class=_LONG,
        duration=Duration(1 * DAY, 14 * DAY),
        external_systems=("Email", "WhatsApp", "CRM", "eSign"),
        steps=(
            "Partner identified",
            "Fit score generated",
            "Manager approval (pause)",
            "Term sheet drafted",
            "Legal review (pause)",
            "Partner sent terms",
            "Partner negotiation",
            "Executive approval (pause)",
            "Activation",
            "If rejected at any stage: compensation (retract, notify)",
        ),
        pause_points=(
            PausePoint("Term review", WaitsOn.PERSON),
            PausePoint("Legal review", WaitsOn.PERSON),
            PausePoint("Executive approval", WaitsOn.PERSON),
        ),
        compensation=("Retract term sheet", "Notify partner of rejection"),
        external_commitment=True,
        implementation="partner_approval",
    ),
    WorkflowRecord(
        key="dd_room",
        name="DD Room Orchestration",
        spec_engine="No durable workflow",
        spec_class=_LONG,
        duration=Duration(2 * WEEK, 8 * WEEK),
        external_systems=("Document storage", "financial APIs", "legal review tools"),
        steps=(
            "DD initiated",
            "Workstreams assigned (financial, legal, technical, product, security)",
            "Each workstream: collect → analyze → findings (parallel, durable)",
            "Findings consolidation",
            "Risk register",
            "Valuation impact",
            "IC Memo generation",
            "IC review (pause)",
            "Decision",
            "If proceed: close preparation",
            "If reject: compensation (archive, notify, lessons learned)",
        ),
        pause_points=(
            PausePoint("Each workstream completion", WaitsOn.EVENT),
            PausePoint("Findings review", WaitsOn.PERSON),
            PausePoint("IC decision", WaitsOn.PERSON),
        ),
        compensation=("Terminate DD", "Notify target", "Archive room"),
        external_commitment=False,
        implementation="dd_room",
    ),
    WorkflowRecord(
        key="signature_commitment",
        name="Signature / Term Sheet Commitment Flow",
        spec_engine="Manual / partial plugin",
        spec_class=_LONG,
        duration=Duration(1 * DAY, 7 * DAY),
        external_systems=("DocuSign/Adobe Sign", "Email", "CRM"),
        steps=(
            "Terms finalized",
            "Approval token obtained",
            "Signature request sent (external)",
            "Wait for signature (pause, poll/webhook)",
            "Signed",
            "Record in CRM",
            "Notify parties",
            "Update deal status",
            "Evidence pack assembly",
            "If expired: compensation (void request, notify, re-negotiate option)",
        ),
        pause_points=(
            PausePoint("Signature request sent", WaitsOn.EVENT),
            PausePoint("Awaiting signature", WaitsOn.EVENT),
        ),
        compensation=("Void signature request", "Notify parties"),
        external_commitment=True,
        implementation="signature_commitment",
        note="The signature arrives from the eSign provider by poll or webhook: an event, not a review.",
    ),
    WorkflowRecord(
        key="ma_offer_negotiation",
        name="M&A Offer & Negotiation Flow",
        spec_engine="No workflow",
        spec_class=_LONG,
        duration=Duration(2 * WEEK, 12 * WEEK),
        external_systems=("Legal counsel", "financial advisors", "regulatory"),
        steps=(),
        pause_points=(
            PausePoint("Board approval", WaitsOn.PERSON),
            PausePoint("Regulatory filing", WaitsOn.EVENT),
            PausePoint("Target response", WaitsOn.EVENT),
        ),
        compensation=("Withdraw offer", "Regulatory withdrawal", "Archive"),
        external_commitment=True,
        implementation="ma_offer",
        note="The spec lists no steps. The offer to the target, which compensation withdraws, commits us.",
    ),
    WorkflowRecord(
        key="geographic_expansion_launch",
        name="Geographic Expansion Launch",
        spec_engine="Manual / feature flags",
        spec_class=_LONG,
        duration=Duration(4 * WEEK, 12 * WEEK),
        external_systems=("Regulatory bodies", "local partners", "infrastructure"),
        steps=(),
        pause_points=(
            PausePoint("Regulatory approval", WaitsOn.EVENT),
            PausePoint("Canary evaluation", WaitsOn.EVENT),
            PausePoint("Scale decision", WaitsOn.PERSON),
        ),
        compensation=("Roll back canary", "Disable market", "Notify users"),
        external_commitment=False,
        implementation="geo_expansion_launch",
        note="The spec lists no steps.",
    ),
    WorkflowRecord(
        key="pmi_program_execution",
        name="PMI Program Execution",
        spec_engine="No workflow",
        spec_class=_LONG,
        duration=Duration(3 * MONTH, 6 * MONTH),
        external_systems=("HR", "finance", "IT", "legal", "CRM"),
        steps=(),
        pause_points=(
            PausePoint("Day-1 phase gate", WaitsOn.PERSON),
            PausePoint("Day-30 phase gate", WaitsOn.PERSON),
            PausePoint("Day-60 phase gate", WaitsOn.PERSON),
            PausePoint("Day-90 phase gate", WaitsOn.PERSON),
        ),
        compensation=("Rollback integration steps", "Separate entities"),
        external_commitment=False,
        implementation="pmi_program",
        note="The spec lists no steps. A phase gate is read as a go/no-go review by people, held on its day.",
    ),
)

INVENTORY: tuple[WorkflowRecord, ...] = _SHORT_LIVED + _MEDIUM_LIVED + _LONG_LIVED

# Not rows of the inventory's tables: the DAGs that implement its "Compensation Logic Template" for every
# durable workflow. They are classified by the same rule, from their own facts.
SUPPORTING: tuple[WorkflowRecord, ...] = (
    WorkflowRecord(
        key="saga_compensation",
        name="Saga compensation (Compensation Logic Template)",
        spec_engine="Compensation Logic Template",
        spec_class=_LONG,
        duration=Duration(1 * SECOND, 30 * MINUTE),
        external_systems=("eSign", "CRM", "Email", "WhatsApp", "Document storage"),
        steps=(
            "for each completed step in reverse",
            "execute compensation",
            "log",
            "mark compensated",
            "mark workflow compensated",
        ),
        pause_points=(),
        compensation=(),
        external_commitment=True,
        implementation="saga_compensation",
        note="Undoes the steps of any durable workflow; its undo calls reach the systems those steps "
        "reached, and its notices (e.g. a rejection) are messages to outside parties.",
    ),
    WorkflowRecord(
        key="saga_reconciler",
        name="Saga reconciler",
        spec_engine="Compensation Logic Template",
        spec_class=_SHORT,
        duration=Duration.under(10 * SECOND),
        external_systems=(),
        steps=(
            "find bad endings without compensation",
            "find failed runs still marked running",
            "start compensation",
        ),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="saga_reconciler",
        note="Reads the business database and Airflow's own REST API, both internal.",
    ),
    WorkflowRecord(
        key="approval_reminders",
        name="Approval reminders and escalation",
        spec_engine="Approval bridge (HITL)",
        spec_class=_MEDIUM,
        duration=Duration.under(10 * SECOND),
        external_systems=("Email",),
        steps=(
            "find open approvals",
            "work out the reminders and escalations due",
            "send each once",
        ),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="approval_reminders",
        note="Reminds approvers before an approval expires and escalates overdue ones to their manager; "
        "its messages go to people of the company, through the email provider.",
    ),
    WorkflowRecord(
        key="esign_status_poller",
        name="eSign status poll (lost-webhook fallback)",
        spec_engine="Signature flow: wait for signature (poll/webhook)",
        spec_class=_MEDIUM,
        duration=Duration.under(2 * MINUTE),
        external_systems=("eSign",),
        steps=(
            "find signature requests still sent",
            "read each envelope's status",
            "put a terminal status in the event inbox",
        ),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="esign_status_poller",
        note="The poll half of the signature flow's 'poll/webhook' wait: it only reads the eSign provider "
        "and writes the inbox, so a lost webhook still wakes the waiting run.",
    ),
    WorkflowRecord(
        key="ma_offer_filing_poller",
        name="Regulator filing status poll (lost-webhook fallback of the M&A offer)",
        spec_engine="M&A offer: regulatory filing (pause)",
        spec_class=_MEDIUM,
        duration=Duration.under(2 * MINUTE),
        external_systems=("Regulator portal",),
        steps=(
            "find filings still waiting for the regulator",
            "read each filing's status",
            "put the acknowledgement or decision in the event inbox",
        ),
        pause_points=(),
        compensation=(),
        external_commitment=False,
        implementation="ma_offer_filing_poller",
        note="The poll half of the offer's regulatory wait: it only reads the regulator's portal and writes "
        "the inbox, so a lost webhook still wakes the waiting run.",
    ),
)

_BY_KEY: dict[str, WorkflowRecord] = {record.key: record for record in INVENTORY + SUPPORTING}
_BY_DAG_ID: dict[str, WorkflowRecord] = {
    record.implementation: record for record in INVENTORY + SUPPORTING if record.implementation is not None
}


def by_key(key: str) -> WorkflowRecord:
    """The record with this key; raises KeyError for an unknown key."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"no workflow with key {key!r} in the inventory") from None


def by_dag_id(dag_id: str) -> WorkflowRecord:
    """The record a DAG implements, e.g. to tag the DAG with its class; raises KeyError if none."""
    try:
        return _BY_DAG_ID[dag_id]
    except KeyError:
        raise KeyError(f"no workflow implemented by dag_id {dag_id!r} in the inventory") from None


def disagreements() -> tuple[WorkflowRecord, ...]:
    """The records whose rule class differs from the spec table they are listed in, in inventory order."""
    return tuple(record for record in INVENTORY if record.disagrees_with_spec)
