"""Each control's evidence, collected from the system's own state and judged by the control's rule
(``domain.rules``).

The ledger's tables are read through the toolkit (``saga.records``, the audit service's chain walk); the
business tables (evidence packs, outreach sends) directly. Every read of the business database runs in one
read-only snapshot, so rows written while a control reads cannot tear its evidence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

DURABLE_TAG = "class:long-lived-durable"
# A workflow that ended badly has its compensation started within seconds (its callback) or minutes (the
# reconciler): one still without one after this long lost both.
COMPENSATION_GRACE = timedelta(hours=1)


def run_control(control_id: str, scan: dict[str, Any]) -> dict[str, Any]:
    """The control's result (JSON, for the report)."""
    from workflows.compliance_scan.domain import CompliancePolicy

    collector = COLLECTORS[control_id]
    policy = CompliancePolicy.model_validate(scan["policy"])
    result = collector(scan, policy)
    log.info("control %s: %s (%s)", control_id, result.status, result.summary)
    return dict(result.model_dump(mode="json"))


@contextmanager
def snapshot() -> Iterator[Any]:
    from execution_plane.saga.db import connect

    conn = connect(application_name="compliance_scan")
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


# ----------------------------------------------------------------------------- compensation
def compensation_registered(scan: dict[str, Any], policy: Any) -> Any:
    from execution_plane.defaults import CLASS_TAGS
    from execution_plane.saga import compensations, records
    from workflows import load_compensations
    from workflows.compliance_scan.domain import StepView, check_compensations

    # Applications register their undos when imported, as the compensation DAG loads them.
    load_compensations()
    durable = sorted(d for d, tag in CLASS_TAGS.items() if tag == DURABLE_TAG and d != "saga_compensation")
    with snapshot() as cur:
        steps = records.ledger_steps(cur, dag_ids=durable, since=_when(scan["window_start"]))
    views = [
        StepView(
            s.workflow_id,
            s.dag_id,
            s.workflow_status,
            s.workflow_updated_at,
            s.compensation_run_id,
            s.step,
            s.side_effect,
            s.compensation_action,
            s.status,
        )
        for s in steps
    ]
    return check_compensations(
        views, compensations.REGISTRY, now=_when(scan["window_end"]), grace=COMPENSATION_GRACE
    )


# ----------------------------------------------------------------------------- audit chain
def audit_chain_intact(scan: dict[str, Any], policy: Any) -> Any:
    from execution_plane.services.audit import first_broken_link
    from workflows.compliance_scan.domain import check_audit_chain

    with snapshot() as cur:
        rows, broken = first_broken_link(cur)
    return check_audit_chain(rows, (broken.row_id, broken.reason) if broken else None)


# ----------------------------------------------------------------------------- approvals
def approvals_by_assignee(scan: dict[str, Any], policy: Any) -> Any:
    from execution_plane.saga import records
    from workflows.compliance_scan.domain import DecisionView, check_approvals

    with snapshot() as cur:
        decisions = records.decisions_since(cur, _when(scan["window_start"]))
    return check_approvals(
        [DecisionView(d.request_id, d.stage, d.assignees, d.status, d.decided_by) for d in decisions]
    )


# ----------------------------------------------------------------------------- messages
def messages_consent_quiet_hours(scan: dict[str, Any], policy: Any) -> Any:
    """The messages the outreach workflow sent to people outside the company: each send recorded with the
    consent read before it and the contact's time zone and country. No such table here: no messages."""
    from workflows.compliance_scan.domain import SendView, check_messages

    with snapshot() as cur:
        cur.execute("SELECT to_regclass('public.outreach_sends') IS NOT NULL")
        if not cur.fetchone()[0]:
            return check_messages([], policy.quiet_hours, source=None)
        cur.execute(
            "SELECT s.workflow_id, s.step_no, s.channel, s.sent_at, s.consent, q.time_zone, q.country"
            " FROM outreach_sends s JOIN outreach_sequences q ON q.workflow_id = s.workflow_id"
            " WHERE s.status = 'sent' AND s.sent_at >= %s ORDER BY s.sent_at",
            (_when(scan["window_start"]),),
        )
        sends = [
            SendView(f"{wf} message {step_no}", channel, sent_at, consent, time_zone, country)
            for wf, step_no, channel, sent_at, consent, time_zone, country in cur.fetchall()
        ]
    return check_messages(sends, policy.quiet_hours, source="outreach_sends")


# ----------------------------------------------------------------------------- evidence packs
def evidence_packs_match(scan: dict[str, Any], policy: Any) -> Any:
    """Every stored pack (evidence_pack's builds, signature_commitment's packs; the newest
    ``max_evidence_packs`` of each) collected again from its scope and compared. A pack sealed before scopes
    were kept can only be checked against its own items (its seal)."""
    from execution_plane.saga import records
    from include.domain.evidence import (
        EvidenceItem,
        EvidenceScope,
        build_evidence_pack,
        digest,
        pack_from_records,
        rebuild_check,
    )
    from workflows.compliance_scan.domain import check_evidence

    limit = int(scan["max_evidence_packs"])
    checks = []
    seal_only = 0
    with snapshot() as cur:
        cur.execute(
            "SELECT 'evidence_pack_builds:' || pack_id, scope, manifest, manifest_sha256"
            " FROM evidence_pack_builds ORDER BY built_at DESC LIMIT %s",
            (limit,),
        )
        stored = cur.fetchall()
        cur.execute(
            "SELECT 'evidence_packs:' || workflow_id, scope, manifest, manifest_sha256 FROM evidence_packs"
            " ORDER BY created_at DESC LIMIT %s",
            (limit,),
        )
        stored += cur.fetchall()
        for ref, scope_json, manifest, sha in stored:
            if scope_json is None:
                seal_only += 1
                items = [EvidenceItem(**entry) for entry in manifest.get("items", [])]
                rebuilt = build_evidence_pack(manifest.get("deal_key", ""), items) if items else None
            else:
                scope = EvidenceScope.model_validate(scope_json)
                found = records.records_as_of(cur, scope.workflow_ids, **scope.query(), digest=digest)
                rebuilt = pack_from_records(scope, found) if found or scope.extra_items else None
            checks.append(rebuild_check(ref, manifest, sha, rebuilt))
    return check_evidence(checks, seal_only=seal_only)


# ----------------------------------------------------------------------------- secrets
def no_secrets_in_logs_xcoms(scan: dict[str, Any], policy: Any) -> Any:
    from workflows.compliance_scan import secrets
    from workflows.compliance_scan.domain import check_secrets

    texts, known, sampled = secrets.collect(
        since=_when(scan["window_start"]), max_task_instances=int(scan["max_task_instances"])
    )
    return check_secrets(texts, known, sampled=sampled)


# ----------------------------------------------------------------------------- retention
def retention_respected(scan: dict[str, Any], policy: Any) -> Any:
    """Each rule's table: how many rows it holds and how many are older than the rule allows. A rule naming a
    column its table lacks is a configuration error (the control errors, naming it)."""
    from execution_plane.saga import records
    from workflows.compliance_scan.domain import TableAges, check_retention, errored

    now = _when(scan["window_end"])
    ages: dict[str, TableAges | None] = {}
    with snapshot() as cur:
        for rule in policy.retention:
            cur.execute(
                "SELECT to_regclass(%s) IS NOT NULL, EXISTS (SELECT 1 FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name = %s AND column_name = %s)",
                (f"public.{rule.table}", rule.table, rule.clock),
            )
            table_exists, column_exists = cur.fetchone()
            if not table_exists:
                ages[rule.table] = None
                continue
            if not column_exists:
                return errored(
                    "retention_respected",
                    f"compliance_policy.retention: table {rule.table} has no column {rule.clock}",
                )
            found = records.aged_rows(cur, rule.table, rule.clock, now - timedelta(days=rule.max_days))
            ages[rule.table] = TableAges(found.rows, found.older, found.oldest)
    return check_retention(policy, ages, now=now)


COLLECTORS: dict[str, Callable[[dict[str, Any], Any], Any]] = {
    "compensation_registered": compensation_registered,
    "audit_chain_intact": audit_chain_intact,
    "approvals_by_assignee": approvals_by_assignee,
    "messages_consent_quiet_hours": messages_consent_quiet_hours,
    "evidence_packs_match": evidence_packs_match,
    "no_secrets_in_logs_xcoms": no_secrets_in_logs_xcoms,
    "retention_respected": retention_respected,
}
