"""
### Compliance scan (medium-lived orchestrated, 2-5 min, internal services only; daily)

**Iterate controls** (the catalog, or the ones chosen in `controls`) -> **check each** (one mapped task per
control: its evidence collected from this system's own state and judged by its rule) -> **aggregate** ->
**report**: JSON (canonical) and PDF stored by content hash through the ledger, the scan recorded in
`compliance_scans` with the report's hash -> the **owner** of every failing control told (one email per
owner per scan, whatever the number of their controls failing; a retry or re-run of the scan tells nobody
twice) -> verdict: a failing control fails the run (after the report is stored and the owners told).

The controls (each with its owner, told when it fails):
- `compensation_registered` (platform): every undo a durable workflow recorded is registered; a compensated
  workflow left no undoable effect in place; no compensation failed; no bad ending waits over an hour for
  its compensation.
- `audit_chain_intact` (security): the audit log's hash chain verifies from its first row.
- `approvals_by_assignee` (compliance): each approval decided in the window was decided by an assigned
  user; an expired one by nobody.
- `messages_consent_quiet_hours` (marketing ops): each outreach message sent in the window went out on a
  channel the person consented to, inside the policy's send window on a working day of their country.
- `evidence_packs_match` (compliance): every stored evidence pack (evidence_pack's, signature_commitment's)
  collected again from its scope has the same hash.
- `no_secrets_in_logs_xcoms` (security): no connection's secret (raw, JSON-escaped, as a Basic header) and
  no credential-shaped string in the logs and XComs of the task instances started in the window (REST API).
- `retention_respected` (data protection): no table under the retention policy holds rows older than its
  rule allows.

Each result is **pass**, **fail** (with every violation: the record and what is wrong), **not applicable**
with the reason (nothing to check, e.g. "no messages": never a pass) or **error** (the control could not
run). The **policy** (retention rules, quiet hours, owners) is configuration: the Airflow Variable
`compliance_policy` (airflow_settings.yaml); a missing or invalid one fails the scan before anything is
checked, naming the field.

**Start**: daily at 03:00 UTC (window: the 24 hours before), the trigger form, or
`POST /api/v2/dags/compliance_scan/dagRuns`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from execution_plane.defaults import default_args, tags_for
from workflows.compliance_scan.catalog import CONTROL_IDS


@dag(
    schedule="0 3 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    default_args=default_args(),
    tags=tags_for("compliance_scan", "compliance"),
    max_active_runs=1,
    params={
        "lookback_hours": Param(
            24,
            type="number",
            exclusiveMinimum=0,
            maximum=24 * 400,
            description="the window the scan looks at",
        ),
        "controls": Param(
            list(CONTROL_IDS),
            type="array",
            items={"type": "string", "enum": list(CONTROL_IDS)},
            minItems=1,
            uniqueItems=True,
            description="the controls to run (default: all)",
        ),
        "scan_id": Param(
            None,
            type=["null", "string"],
            pattern=r"^(?!.*\.\.)[A-Za-z0-9._-]{1,64}$",
            description="the scan's id (default: derived from the run); a scan is reported and notified once",
        ),
        "max_task_instances": Param(
            500,
            type="integer",
            minimum=1,
            maximum=20_000,
            description="task instances whose logs and XComs are scanned",
        ),
        "max_evidence_packs": Param(
            1000,
            type="integer",
            minimum=1,
            maximum=100_000,
            description="newest stored packs rebuilt, per table",
        ),
    },
)
def compliance_scan() -> None:
    # ---------------------------------------------------------------- tasks
    @task
    def open_scan() -> dict[str, Any]:
        from workflows.compliance_scan.scan import open_scan as open_

        context = get_current_context()
        dag_run = context["dag_run"]
        window_end = context.get("data_interval_end") if dag_run.run_type == "scheduled" else None
        return open_(dict(context["params"]), context["run_id"], window_end or dag_run.run_after)

    @task
    def iterate_controls(scan: dict[str, Any]) -> list[str]:
        return list(scan["controls"])

    @task(retries=2, retry_delay=timedelta(seconds=10), map_index_template="{{ control_id }}")
    def check(control_id: str, scan: dict[str, Any]) -> dict[str, Any]:
        """A control that still cannot run after its retries is reported as an error, not left out."""
        from workflows.compliance_scan.controls import run_control
        from workflows.compliance_scan.domain import errored

        context = get_current_context()
        try:
            return run_control(control_id, scan)
        except Exception as exc:
            if context["ti"].try_number <= context["task"].retries:
                raise
            return dict(errored(control_id, f"{type(exc).__name__}: {exc}"[:500]).model_dump(mode="json"))

    @task
    def store_report(scan: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
        from workflows.compliance_scan import report

        return report.store_report(scan, list(results))

    @task
    def notify_owners(scan: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
        from workflows.compliance_scan import report

        return report.notify_owners(scan, stored)

    @task(retries=2)
    def verdict(scan: dict[str, Any], stored: dict[str, Any], notified: dict[str, Any]) -> dict[str, Any]:
        from workflows.compliance_scan import report

        return report.verdict(scan, stored, notified)

    # ---------------------------------------------------------------- calling tasks
    scan = open_scan()
    results = check.partial(scan=scan).expand(control_id=iterate_controls(scan))
    stored = store_report(scan, results)
    verdict(scan, stored, notify_owners(scan, stored))


compliance_scan()
