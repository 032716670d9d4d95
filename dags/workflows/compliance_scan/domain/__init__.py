"""compliance_scan's rules: the control catalog, the policy (configuration), each control's rule, and the
report. Pure: no Airflow, no toolkit, no database.

- ``CONTROLS`` / ``CONTROL_IDS`` / ``BY_ID``: the controls, each with its owner.
- ``parse_policy(raw) -> CompliancePolicy`` (retention rules, quiet hours, owners); ``PolicyError`` names the
  field.
- ``check_*``: one rule per control over the evidence collected for it -> ``ControlResult`` (pass, fail,
  not applicable with the reason, error).
- ``build_report(...) -> Report``; ``report_pdf(report, sha)``; ``owner_notices(report, owner_of, uri)``.
"""

from __future__ import annotations

from workflows.compliance_scan.catalog import BY_ID, CONTROL_IDS, CONTROLS, Control
from workflows.compliance_scan.domain.policy import (
    CompliancePolicy,
    PolicyError,
    QuietHours,
    RetentionRule,
    parse_policy,
)
from workflows.compliance_scan.domain.report import Report, build_report, owner_notices, report_pdf
from workflows.compliance_scan.domain.results import ControlResult, Violation, errored, judged
from workflows.compliance_scan.domain.rules import (
    DecisionView,
    ScannedText,
    SendView,
    StepView,
    TableAges,
    check_approvals,
    check_audit_chain,
    check_compensations,
    check_evidence,
    check_messages,
    check_retention,
    check_secrets,
)

__all__ = [
    "BY_ID",
    "CONTROLS",
    "CONTROL_IDS",
    "CompliancePolicy",
    "Control",
    "ControlResult",
    "DecisionView",
    "PolicyError",
    "QuietHours",
    "Report",
    "RetentionRule",
    "ScannedText",
    "SendView",
    "StepView",
    "TableAges",
    "Violation",
    "build_report",
    "check_approvals",
    "check_audit_chain",
    "check_compensations",
    "check_evidence",
    "check_messages",
    "check_retention",
    "check_secrets",
    "errored",
    "judged",
    "owner_notices",
    "parse_policy",
    "report_pdf",
]
