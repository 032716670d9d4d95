"""The scan's report: every control's result, the verdict, its JSON and PDF forms (both deterministic: the
same results give the same bytes, so a retried step stores nothing new), and one notice per owner of a
failing control."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from include.domain.common import Message, canonical_json
from include.domain.documents import Section, Table, render_pdf
from workflows.compliance_scan.catalog import BY_ID, CONTROL_IDS
from workflows.compliance_scan.domain.results import ControlResult

REPORT_SCHEMA = "execution-plane/compliance-report/v1"
STATUS_LABELS = {"pass": "PASS", "fail": "FAIL", "not_applicable": "N/A", "error": "ERROR"}


class Report(BaseModel):
    model_config = ConfigDict(frozen=True)

    schema_id: str = REPORT_SCHEMA
    scan_id: str
    workflow_id: str
    run_id: str
    window_start: datetime
    window_end: datetime
    status: Literal["passed", "failed"]
    failing: list[str]
    results: list[ControlResult]

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def json_bytes(self) -> bytes:
        return canonical_json(self.as_json())


def build_report(
    *,
    scan_id: str,
    workflow_id: str,
    run_id: str,
    window_start: datetime,
    window_end: datetime,
    results: Sequence[ControlResult],
) -> Report:
    """The results in the catalog's order; failed when any control failed or could not run."""
    order = {control_id: n for n, control_id in enumerate(CONTROL_IDS)}
    ordered = sorted(results, key=lambda r: order.get(r.control_id, len(order)))
    if len({r.control_id for r in ordered}) != len(ordered):
        raise ValueError("a control reported twice")
    if not ordered:
        raise ValueError("a report needs at least one control's result")
    failing = [r.control_id for r in ordered if r.failing]
    return Report(
        scan_id=scan_id,
        workflow_id=workflow_id,
        run_id=run_id,
        window_start=window_start,
        window_end=window_end,
        status="failed" if failing else "passed",
        failing=failing,
        results=ordered,
    )


def report_pdf(report: Report, report_sha256: str) -> bytes:
    """The report for people: the verdict, a table of every control, then each failing control's
    violations. Dated by the end of its window (deterministic)."""
    summary = Table(
        header=["Control", "Result", "Checked", "Summary"],
        rows=[
            [
                BY_ID[r.control_id].title if r.control_id in BY_ID else r.control_id,
                STATUS_LABELS[r.status],
                str(r.checked),
                r.summary,
            ]
            for r in report.results
        ],
        col_widths=[3.0, 0.8, 0.8, 3.4],
    )
    sections = [
        Section(
            heading="Verdict",
            paragraphs=[
                f"Scan {report.scan_id} ({report.workflow_id}, run {report.run_id})",
                f"Window: {report.window_start.isoformat()} to {report.window_end.isoformat()}",
                f"Result: {report.status.upper()}"
                + (f" ({', '.join(report.failing)} failing)" if report.failing else ""),
                f"JSON report SHA-256: {report_sha256}",
            ],
        ),
        Section(heading="Controls", tables=[summary]),
    ]
    for r in report.results:
        if not r.violations and r.status != "error":
            continue
        rows = [[v.ref, v.detail] for v in r.violations]
        more = r.violation_count - len(r.violations)
        sections.append(
            Section(
                heading=f"{STATUS_LABELS[r.status]}: {r.control_id}",
                paragraphs=[r.summary] + ([f"... and {more} more (see the JSON report)"] if more > 0 else []),
                tables=[Table(header=["Record", "Finding"], rows=rows, col_widths=[3.0, 5.0])]
                if rows
                else [],
            )
        )
    return render_pdf(
        f"Compliance scan {report.scan_id}",
        sections,
        metadata={
            "created_at": report.window_end.isoformat(),
            "author": "Execution Plane",
            "subject": f"Compliance scan {report.scan_id}: {report.status}",
            "keywords": f"report_sha256:{report_sha256}",
        },
    )


def owner_notices(report: Report, owner_of: Callable[[str], str], report_uri: str) -> dict[str, Message]:
    """One message per owner, listing every failing control they own (told once per scan, whatever the
    number of their controls that failed)."""
    by_owner: dict[str, list[ControlResult]] = {}
    for r in report.results:
        if r.failing:
            by_owner.setdefault(owner_of(r.control_id), []).append(r)
    notices = {}
    for owner, failed in sorted(by_owner.items()):
        lines = [
            f"The compliance scan {report.scan_id} (window {report.window_start.isoformat()} to "
            f"{report.window_end.isoformat()}) found {len(failed)} of your controls failing:",
            "",
        ]
        for r in failed:
            lines.append(f"- {r.control_id}: {r.summary}")
            lines += [f"    {v.ref}: {v.detail}" for v in r.violations[:5]]
            if r.violation_count > 5:
                lines.append(f"    ... {r.violation_count - 5} more in the report")
        lines += ["", f"Full report: {report_uri}"]
        notices[owner] = Message(
            subject=f"Compliance scan {report.scan_id}: {', '.join(r.control_id for r in failed)} failing",
            body="\n".join(lines),
        )
    return notices
