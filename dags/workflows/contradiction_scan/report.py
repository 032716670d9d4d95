"""The scan recorded (``contradiction_scans``: its documents, its conflicts with quotes and locations) and
the deal's owner told once, both through the ledger under the scan's workflow (the deal and its documents'
contents): a retry, a re-run, or a later scan of the same unchanged documents records nothing twice and
tells nobody twice."""

from __future__ import annotations

import json
import logging
from typing import Any

from workflows.contradiction_scan.documents import DAG_ID

log = logging.getLogger(__name__)

NOTICE_TEMPLATE = "contradictions_found"


def saga_of(scan: dict[str, Any]) -> Any:
    from execution_plane.saga.steps import Saga

    return Saga(
        workflow_id=scan["workflow_id"], dag_id=DAG_ID, run_id=scan["run_id"], business_key=scan["scan_id"]
    )


def _reported_before(scan: dict[str, Any]) -> dict[str, Any] | None:
    """The scan as an earlier run recorded it, if that run completed it (the same documents again)."""
    from execution_plane.saga.db import connect
    from execution_plane.saga.steps import Saga

    with Saga.for_workflow(scan["workflow_id"], actor=DAG_ID) as saga:
        row = saga.workflow()
    if row is None or row["status"] != "completed":
        return None
    conn = connect(application_name=DAG_ID)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT status, conflicts, notified_message_id FROM contradiction_scans"
                " WHERE workflow_id = %s",
                (scan["workflow_id"],),
            )
            status, conflicts, message_id = cur.fetchone()
    finally:
        conn.close()
    return {"status": status, "conflicts": conflicts, "notified_message_id": message_id}


def record_conflicts(scan: dict[str, Any], compared: dict[str, Any]) -> dict[str, Any]:
    """The scan's conflicts (each pair's findings merged, both sides quoted with their lines), recorded
    once."""
    from workflows.contradiction_scan.domain import Document, PairResult, conflicts

    before = _reported_before(scan)
    if before is not None:
        log.info(
            "scan %s: these documents were scanned and reported before (%s conflicts): nothing recorded",
            scan["scan_id"],
            len(before["conflicts"]),
        )
        return {"status": before["status"], "conflicts": before["conflicts"], "reported_before": True}
    documents = {d["doc_id"]: Document.model_validate(d) for d in scan["documents"]}
    found = conflicts(
        [(documents[p["a"]], documents[p["b"]], PairResult.from_json(p["result"])) for p in compared["pairs"]]
    )
    status = "conflicts" if found else "clean"
    with saga_of(scan) as saga:

        def record(cur: Any) -> dict[str, Any]:
            cur.execute(
                "INSERT INTO contradiction_scans (workflow_id, deal_id, fingerprint, documents, model, pairs,"
                " status, conflicts, conflict_count, owner_email) VALUES (%s, %s, %s, %s::jsonb, %s, %s, %s,"
                " %s::jsonb, %s, %s) ON CONFLICT (workflow_id) DO NOTHING",
                (
                    scan["workflow_id"],
                    scan["deal_id"],
                    scan["fingerprint"],
                    json.dumps(
                        {
                            "compared": [{k: d[k] for k in d if k != "text"} for d in scan["documents"]],
                            "left_out": scan["skipped"],
                        }
                    ),
                    scan["model"],
                    len(compared["pairs"]),
                    status,
                    json.dumps(found, ensure_ascii=False),
                    len(found),
                    scan["owner_email"],
                ),
            )
            return {"status": status, "conflict_count": len(found)}

        saga.db_write("scan.record", record, request={"fingerprint": scan["fingerprint"]})
    log.info("scan %s of deal %s: %s, %s conflict(s)", scan["scan_id"], scan["deal_id"], status, len(found))
    for conflict in found:
        sides = " | ".join(f"{s['doc_id']} line {s['line']}: {s['quote']!r}" for s in conflict["sides"])
        log.info("%s %s: %s (%s)", conflict["conflict_id"], conflict["topic"], conflict["detail"], sides)
    return {"status": status, "conflicts": found, "reported_before": False}


def notify_owner(scan: dict[str, Any], recorded: dict[str, Any]) -> dict[str, Any]:
    """The deal's owner told of the conflicts in one email (its id is made of the scan and the owner: sent
    once); a clean scan tells nobody. The scan's workflow completes."""
    from workflows.contradiction_scan.domain import owner_message

    if recorded["reported_before"]:
        return {"status": recorded["status"], "told": None, "reported_before": True}
    owner = scan["owner_email"]
    told = None
    with saga_of(scan) as saga:
        if recorded["conflicts"] and owner:
            message = owner_message(
                scan["deal_id"], scan["scan_id"], recorded["conflicts"], len(scan["documents"])
            )
            sent = saga.send_message(
                "notify.owner",
                channel="email",
                to=owner,
                template=NOTICE_TEMPLATE,
                subject=message.subject,
                body=message.body,
            )

            def record(cur: Any) -> dict[str, Any]:
                cur.execute(
                    "UPDATE contradiction_scans SET notified_message_id = %s, updated_at = now()"
                    " WHERE workflow_id = %s",
                    (sent["message_id"], scan["workflow_id"]),
                )
                return {"message_id": sent["message_id"]}

            saga.db_write("scan.notified", record, request={"owner": owner})
            told = owner
        elif recorded["conflicts"]:
            log.warning(
                "deal %s has no owner in the CRM: the conflicts are recorded, nobody told", scan["deal_id"]
            )
        saga.end("completed")
    return {"status": recorded["status"], "told": told, "reported_before": False}
