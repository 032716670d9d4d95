"""The scan's report stored and hashed, the owners of failing controls told (once per scan), the verdict."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

REPORT_KIND = "compliance_report"
REPORT_PDF_KIND = "compliance_report_pdf"
NOTICE_TEMPLATE = "compliance_control_failing"


def store_report(scan: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate the controls' results into the report; its JSON (canonical) and PDF stored by content hash
    through the ledger; the scan recorded (once) in ``compliance_scans`` with its report's hashes."""
    import json

    from include.domain.common import sha256_hex
    from workflows.compliance_scan.domain import ControlResult, build_report, report_pdf
    from workflows.compliance_scan.scan import saga_of

    report = build_report(
        scan_id=scan["scan_id"],
        workflow_id=scan["workflow_id"],
        run_id=scan["run_id"],
        window_start=datetime.fromisoformat(scan["window_start"]),
        window_end=datetime.fromisoformat(scan["window_end"]),
        results=[ControlResult.model_validate(r) for r in results],
    )
    data = report.json_bytes()
    report_sha = sha256_hex(data)
    with saga_of(scan) as saga:
        json_doc = saga.store_document("report.json", kind=REPORT_KIND, data=data, compensation=False)
        pdf_doc = saga.store_document(
            "report.pdf", kind=REPORT_PDF_KIND, data=report_pdf(report, report_sha), compensation=False
        )

        def record(cur: Any) -> dict[str, Any]:
            cur.execute(
                "INSERT INTO compliance_scans (workflow_id, scan_id, window_start, window_end, status,"
                " results, failing, report_sha256, report_pdf_sha256) VALUES (%s, %s, %s, %s, %s, %s::jsonb,"
                " %s, %s, %s) ON CONFLICT (workflow_id) DO NOTHING",
                (
                    scan["workflow_id"],
                    scan["scan_id"],
                    report.window_start,
                    report.window_end,
                    report.status,
                    json.dumps(report.as_json()["results"]),
                    report.failing,
                    report_sha,
                    pdf_doc["sha256"],
                ),
            )
            return {"status": report.status, "failing": report.failing}

        saga.db_write("report.record", record, request={"report_sha256": report_sha})
    log.info(
        "compliance scan %s: %s, report sha256 %s (%s)",
        scan["scan_id"],
        report.status,
        report_sha,
        ", ".join(f"{r.control_id}={r.status}" for r in report.results),
    )
    return {
        "status": report.status,
        "failing": report.failing,
        "report_sha256": report_sha,
        "report_uri": json_doc["uri"],
        "pdf_sha256": pdf_doc["sha256"],
        "report": report.as_json(),
    }


def notify_owners(scan: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """One email per owner of a failing control, listing all of theirs: the message id is made of the scan,
    the owner and the template, so a retry or a re-run of this scan never tells anyone twice."""
    import json

    from workflows.compliance_scan.domain import CompliancePolicy, Report, owner_notices
    from workflows.compliance_scan.scan import saga_of

    policy = CompliancePolicy.model_validate(scan["policy"])
    report = Report.model_validate(stored["report"])
    notices = owner_notices(report, policy.owner_of, stored["report_uri"])
    if not notices:
        return {"notified": {}}
    with saga_of(scan) as saga:
        sent = {
            owner: saga.send_message(
                f"notify.{owner}",
                channel="email",
                to=owner,
                template=NOTICE_TEMPLATE,
                subject=message.subject,
                body=message.body,
            )["message_id"]
            for owner, message in notices.items()
        }

        def record(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE compliance_scans SET notified = %s::jsonb, updated_at = now() WHERE workflow_id = %s",
                (json.dumps(sent), scan["workflow_id"]),
            )
            return {"notified": sent}

        saga.db_write("notified", record, request={"owners": sorted(sent)})
    log.info("compliance scan %s: told %s", scan["scan_id"], ", ".join(sorted(sent)))
    return {"notified": sent}


def verdict(scan: dict[str, Any], stored: dict[str, Any], notified: dict[str, Any]) -> dict[str, Any]:
    """The scan itself is done (its workflow completes); a failing control fails the run, so the grid and
    every alert on failed runs show it."""
    from airflow.sdk.exceptions import AirflowFailException

    from workflows.compliance_scan.scan import saga_of

    with saga_of(scan) as saga:
        saga.end("completed")
    if stored["failing"]:
        told = ", ".join(sorted(notified["notified"])) or "nobody"
        raise AirflowFailException(
            f"compliance scan {scan['scan_id']}: {', '.join(stored['failing'])} failing"
            f" (owners told: {told}); report sha256 {stored['report_sha256']}"
        )
    return {"scan_id": scan["scan_id"], "status": stored["status"], "report_sha256": stored["report_sha256"]}
