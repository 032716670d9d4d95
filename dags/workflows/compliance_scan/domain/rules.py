"""Each control's rule over the evidence collected for it: pure functions, one per control.

Every rule counts what it checked; with nothing to check it says so (``not_applicable`` and why), never
passes. A violation names the record (``ref``) and what is wrong with it, never a secret's value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from include.domain.evidence import RebuildCheck
from include.domain.quiet_hours import is_allowed, local_label
from include.security.secrets_scan import leaks, pattern_hits
from workflows.compliance_scan.domain.policy import CompliancePolicy, QuietHours
from workflows.compliance_scan.domain.results import ControlResult, Violation, judged

BAD_ENDINGS = ("rejected", "expired", "failed")


# ----------------------------------------------------------------------------- compensation
@dataclass(frozen=True)
class StepView:
    workflow_id: str
    dag_id: str
    workflow_status: str
    workflow_updated_at: datetime
    compensation_run_id: str | None
    step: str
    side_effect: str
    compensation_action: str | None
    status: str


def check_compensations(
    steps: Sequence[StepView], registered: Iterable[str], *, now: datetime, grace: timedelta
) -> ControlResult:
    """Every undo a durable workflow recorded is registered (else it could never run); a compensated
    workflow left none of its undoable effects in place; a failed compensation is a finding; a workflow that
    ended badly longer than ``grace`` ago has its compensation started."""
    known = set(registered)
    violations: list[Violation] = []
    not_started: set[str] = set()
    for s in steps:
        ref = f"{s.workflow_id} / {s.step}"
        if s.compensation_action and s.compensation_action not in known:
            violations.append(
                Violation(
                    ref=ref,
                    detail=f"records the undo {s.compensation_action!r}, which no workflow registers: "
                    "it could never be compensated",
                )
            )
        if s.compensation_action and s.workflow_status == "compensated" and s.status == "done":
            violations.append(
                Violation(ref=ref, detail=f"{s.side_effect} left in place by a finished compensation")
            )
        if s.status == "compensation_failed" or (
            s.compensation_action and s.workflow_status == "compensation_failed" and s.status == "done"
        ):
            violations.append(
                Violation(ref=ref, detail=f"{s.side_effect} not undone: its compensation failed")
            )
        if (
            s.workflow_status in BAD_ENDINGS
            and s.compensation_run_id is None
            and now - s.workflow_updated_at > grace
            and s.workflow_id not in not_started
        ):
            not_started.add(s.workflow_id)
            violations.append(
                Violation(
                    ref=s.workflow_id,
                    detail=f"ended {s.workflow_status} at {s.workflow_updated_at.isoformat()}, "
                    f"no compensation started after {grace}",
                )
            )
    workflows = {s.workflow_id for s in steps}
    return judged(
        "compensation_registered",
        checked=len(steps),
        what=f"side effects of {len(workflows)} durable workflows",
        violations=violations,
        evidence={
            "workflows": len(workflows),
            "side_effects": len(steps),
            "with_undo": sum(1 for s in steps if s.compensation_action),
            "registered_undos": len(known),
        },
        nothing="no durable workflow recorded a side effect in the window",
    )


# ----------------------------------------------------------------------------- audit chain
def check_audit_chain(rows: int, first_break: tuple[int, str] | None) -> ControlResult:
    violations = (
        [] if first_break is None else [Violation(ref=f"audit_log:{first_break[0]}", detail=first_break[1])]
    )
    return judged(
        "audit_chain_intact",
        checked=rows,
        what="audit log rows",
        violations=violations,
        evidence={"rows": rows, "first_broken_link": first_break[0] if first_break else None},
        nothing="the audit log is empty",
    )


# ----------------------------------------------------------------------------- approvals
@dataclass(frozen=True)
class DecisionView:
    request_id: str
    stage: str
    assignees: tuple[str, ...]
    status: str
    decided_by: str | None


def check_approvals(decisions: Sequence[DecisionView]) -> ControlResult:
    """An answered approval was decided by one of its assignees; one that expired was decided by nobody."""
    violations: list[Violation] = []
    for d in decisions:
        if d.status == "expired":
            if d.decided_by is not None:
                violations.append(
                    Violation(ref=d.request_id, detail=f"expired, yet recorded as decided by {d.decided_by}")
                )
        elif d.decided_by is None:
            violations.append(Violation(ref=d.request_id, detail=f"{d.status} with no decider recorded"))
        elif d.decided_by not in d.assignees:
            violations.append(
                Violation(
                    ref=d.request_id,
                    detail=f"{d.status} by {d.decided_by}, who is not assigned "
                    f"(assigned: {', '.join(d.assignees)})",
                )
            )
    return judged(
        "approvals_by_assignee",
        checked=len(decisions),
        what="decided approvals",
        violations=violations,
        evidence={"decided": len(decisions), "expired": sum(1 for d in decisions if d.status == "expired")},
        nothing="no approval was decided in the window",
    )


# ----------------------------------------------------------------------------- messages
@dataclass(frozen=True)
class SendView:
    ref: str
    channel: str
    sent_at: datetime
    consent: Mapping[str, Any] | None
    time_zone: str
    country: str


def check_messages(sends: Sequence[SendView], quiet: QuietHours, *, source: str | None) -> ControlResult:
    """Each message to a person outside the company went out on a channel they consented to (the consent
    the sender read before sending, recorded with the send), inside their send window on a working day of
    their country (give or take ``grace_minutes`` for the send being recorded after the decision)."""
    window = quiet.window()
    grace = timedelta(minutes=quiet.grace_minutes)
    violations: list[Violation] = []
    for s in sends:
        if not isinstance(s.consent, Mapping):
            violations.append(Violation(ref=s.ref, detail=f"sent on {s.channel} with no consent recorded"))
        elif s.consent.get(s.channel) is not True:
            violations.append(
                Violation(ref=s.ref, detail=f"sent on {s.channel} without consent for {s.channel}")
            )
        try:
            allowed = is_allowed(s.sent_at - grace, s.time_zone, s.country, window)
        except ValueError as exc:
            violations.append(Violation(ref=s.ref, detail=f"send time cannot be checked: {exc}"))
            continue
        if not allowed:
            violations.append(
                Violation(
                    ref=s.ref,
                    detail=f"sent {local_label(s.sent_at, s.time_zone)}, inside quiet hours (window "
                    f"{window.start}-{window.end} on working days of {s.country})",
                )
            )
    nothing = "no messages" + ("" if source else " (no outreach messages are recorded in this system)")
    return judged(
        "messages_consent_quiet_hours",
        checked=len(sends),
        what="messages sent",
        violations=violations,
        evidence={"source": source, "sent": len(sends), "window": f"{window.start}-{window.end}"},
        nothing=nothing,
    )


# ----------------------------------------------------------------------------- evidence packs
def check_evidence(checks: Sequence[RebuildCheck], *, seal_only: int = 0) -> ControlResult:
    violations = [Violation(ref=c.pack_ref, detail=c.describe()) for c in checks if not c.matches]
    return judged(
        "evidence_packs_match",
        checked=len(checks),
        what="evidence packs rebuilt",
        violations=violations,
        evidence={"rebuilt": len(checks), "sealed_before_scopes_were_kept": seal_only},
        nothing="no evidence pack is stored",
    )


# ----------------------------------------------------------------------------- secrets
@dataclass(frozen=True)
class ScannedText:
    source: str  # "log" or "xcom"
    ref: str
    text: str


def check_secrets(texts: Sequence[ScannedText], secrets: Mapping[str, str], *, sampled: str) -> ControlResult:
    """No known secret (raw, JSON-escaped, as a Basic header) and no credential-shaped string (a private
    key, a JWT, a bearer header) in any task log or XCom scanned. The violation names the secret, never
    shows it."""
    violations: list[Violation] = []
    for item in texts:
        for name in leaks(item.text, dict(secrets)):
            violations.append(
                Violation(ref=f"{item.source} {item.ref}", detail=f"holds the secret of {name}")
            )
        for shape in pattern_hits(item.text):
            violations.append(Violation(ref=f"{item.source} {item.ref}", detail=f"holds a {shape}"))
    return judged(
        "no_secrets_in_logs_xcoms",
        checked=len(texts),
        what="task logs and XComs",
        violations=violations,
        evidence={
            "logs": sum(1 for t in texts if t.source == "log"),
            "xcoms": sum(1 for t in texts if t.source == "xcom"),
            "secrets_looked_for": len(secrets),
            "sampled": sampled,
        },
        nothing="no task log or XCom in the window",
    )


# ----------------------------------------------------------------------------- retention
@dataclass(frozen=True)
class TableAges:
    rows: int
    older: int
    oldest: datetime | None


def check_retention(
    policy: CompliancePolicy, ages: Mapping[str, TableAges | None], *, now: datetime
) -> ControlResult:
    """No table under the policy holds rows older than its rule allows (``None``: the table does not exist
    here; reported, not counted)."""
    violations: list[Violation] = []
    per_table: dict[str, Any] = {}
    for rule in policy.retention:
        found = ages.get(rule.table)
        if found is None:
            per_table[rule.table] = "absent"
            continue
        per_table[rule.table] = {"rows": found.rows, "older": found.older, "max_days": rule.max_days}
        if found.older:
            oldest = found.oldest.isoformat() if found.oldest else "?"
            days = (now - found.oldest).days if found.oldest else "?"
            violations.append(
                Violation(
                    ref=f"{rule.table}.{rule.clock}",
                    detail=f"{found.older} row(s) kept beyond {rule.max_days} days "
                    f"(oldest {oldest}, {days} days)",
                )
            )
    return judged(
        "retention_respected",
        checked=sum(a.rows for a in ages.values() if a is not None),
        what=f"rows of {sum(1 for a in ages.values() if a is not None)} tables under the retention policy",
        violations=violations,
        evidence={"tables": per_table},
        nothing="no row is held in a table the retention policy covers",
    )
