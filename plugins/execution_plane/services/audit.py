"""Audit log write, the one implementation behind ``POST /services/audit-events`` and every component's
audit events (``write_audit_event_task`` in a workflow step), plus the chain check command.

An event is chained by ``execution_plane.saga.audit.append`` (the toolkit's hash chain, the same rows the
ledger and the compensations write), in ONE transaction with its ``audit_events`` row: the event id is
inserted first (``ON CONFLICT DO NOTHING``), so a redelivered event, even one racing the first delivery,
waits for it and is answered ``duplicate`` with the first one's link; nothing is chained twice. The same
event id with different content is a 409: the id already names another event.

    PYTHONPATH=.:plugins python -m execution_plane.services.audit verify [--db-url URL]

walks the whole chain (``saga.audit.verify_chain``) and reports the first broken link (exit 1), or that
it is intact (exit 0). Without ``--db-url`` it reads the Airflow connection ``execution_plane_db``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from execution_plane.saga import audit as chain
from execution_plane.services import db
from execution_plane.services.errors import ServiceError
from include.services.audit import AuditEvent, AuditWrite, chained_details
from include.services.common import input_digest

EVENT_VERSION = "audit-v1"


def append_event(cur: Any, event: AuditEvent) -> AuditWrite:
    """Chain ``event`` inside the caller's transaction, once per event id."""
    digest = input_digest(EVENT_VERSION, event)
    cur.execute(
        "INSERT INTO audit_events (event_id, component, request_sha256) VALUES (%s, %s, %s)"
        " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        (event.event_id, event.component, digest),
    )
    if cur.fetchone() is None:
        cur.execute(
            "SELECT request_sha256, audit_id, hash FROM audit_events WHERE event_id = %s", (event.event_id,)
        )
        stored_digest, audit_id, link = cur.fetchone()
        if stored_digest != digest:
            raise ServiceError(
                409,
                "event_id_reused",
                f"event {event.event_id} was already recorded with different content",
                field="event_id",
            )
        return AuditWrite(event_id=event.event_id, audit_id=audit_id, hash=link, stored="duplicate")
    link = chain.append(
        cur,
        actor=event.actor,
        workflow_id=event.workflow_id,
        action=event.action,
        details=chained_details(event),
    )
    cur.execute("SELECT id FROM audit_log WHERE hash = %s", (link,))
    audit_id = int(cur.fetchone()[0])
    cur.execute(
        "UPDATE audit_events SET audit_id = %s, hash = %s WHERE event_id = %s",
        (audit_id, link, event.event_id),
    )
    return AuditWrite(event_id=event.event_id, audit_id=audit_id, hash=link, stored="created")


def write(event: AuditEvent) -> AuditWrite:
    return db.transaction(lambda cur: append_event(cur, event))


def write_audit_event_task(event: dict[str, Any]) -> dict[str, Any]:
    """The workflow step: one audit event -> its link in the chain (JSON, for XCom)."""
    return write(AuditEvent.model_validate(event)).model_dump(mode="json")


def first_broken_link(cur: Any) -> tuple[int, chain.ChainBreak | None]:
    """(rows in the chain, its first broken link or None)."""
    cur.execute("SELECT count(*) FROM audit_log")
    rows = int(cur.fetchone()[0])
    breaks = chain.verify_chain(cur)
    return rows, (breaks[0] if breaks else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m execution_plane.services.audit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="walk the audit chain and report its first broken link")
    verify.add_argument(
        "--db-url", help="business database URL (default: Airflow connection execution_plane_db)"
    )
    args = parser.parse_args(argv)
    if args.db_url:
        import psycopg2

        conn = psycopg2.connect(args.db_url, application_name="ep-audit-verify")
    else:
        from execution_plane.saga.db import connect

        conn = connect(application_name="ep-audit-verify")
    try:
        # REPEATABLE READ: one snapshot, so rows appended while the walk runs cannot look like a break.
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn, conn.cursor() as cur:
            rows, broken = first_broken_link(cur)
    finally:
        conn.close()
    if broken is None:
        print(f"audit chain intact: {rows} rows")
        return 0
    print(
        f"audit chain BROKEN: first broken link at audit_log id {broken.row_id}: {broken.reason}"
        f" ({rows} rows)"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
