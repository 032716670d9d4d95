"""pmi_program's business rules: the integration plan, the phase dates, the checklists, the messages and the
closing report. Pure Python and pydantic: no Airflow, no toolkit, no database or HTTP client."""

from __future__ import annotations

from workflows.pmi_program.domain.checklists import Checklist, ChecklistItem, phase_checklist
from workflows.pmi_program.domain.messages import (
    Message,
    counterparty_notice,
    customer_notice,
    decision_request,
    employee_welcome,
    program_closed,
    rollback_notice,
)
from workflows.pmi_program.domain.phases import (
    DEFAULT_EXTENSION_DAYS,
    MAX_EXTENSION_DAYS,
    PHASE_TITLES,
    PHASES,
    REVIEW_ROUNDS,
    InvalidPhaseDays,
    due_at,
    extension,
    phase_days,
)
from workflows.pmi_program.domain.plan import (
    CLOSED_DEAL_STATUSES,
    FUNCTION_TITLES,
    FUNCTIONS,
    DealNotClosed,
    IntegrationPlan,
    account_name,
    build_plan,
    check_closed,
)
from workflows.pmi_program.domain.report import closing_report_pdf, open_items

__all__ = [
    "CLOSED_DEAL_STATUSES",
    "DEFAULT_EXTENSION_DAYS",
    "FUNCTIONS",
    "FUNCTION_TITLES",
    "MAX_EXTENSION_DAYS",
    "PHASES",
    "PHASE_TITLES",
    "REVIEW_ROUNDS",
    "Checklist",
    "ChecklistItem",
    "DealNotClosed",
    "IntegrationPlan",
    "InvalidPhaseDays",
    "Message",
    "account_name",
    "build_plan",
    "check_closed",
    "closing_report_pdf",
    "counterparty_notice",
    "customer_notice",
    "decision_request",
    "due_at",
    "employee_welcome",
    "extension",
    "open_items",
    "phase_checklist",
    "phase_days",
    "program_closed",
    "rollback_notice",
]
