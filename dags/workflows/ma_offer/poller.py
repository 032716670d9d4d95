"""The status-poll fallback for a lost regulator webhook (ma_offer_filing_poller_dag.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)


def _event(filing: dict[str, Any], status: str) -> dict[str, Any]:
    """The inbox row a webhook for ``status`` would have written (same source, type, key and payload)."""
    event_id = f"regulator:poll:{filing['filing_id']}:{status}"
    return {
        "event_id": event_id,
        "type": f"filing.{status}",
        "correlation_key": filing["correlation_key"],
        "payload": {
            "filing_id": filing["filing_id"],
            "reference": filing["reference"],
            "kind": filing["kind"],
            "subject": filing["subject"],
            "jurisdiction": filing["jurisdiction"],
            "status": status,
            "conditions": list(filing.get("conditions") or []) if status != "acknowledged" else [],
            "reason": filing.get("decision_reason") if status != "acknowledged" else None,
        },
        "occurred_at": filing["acknowledged_at"] if status == "acknowledged" else filing["decided_at"],
        "via": "status_poll",
    }


def poll_filing_statuses(*, workflow_ids: Sequence[str] | None = None, limit: int = 500) -> dict[str, Any]:
    """For each filing still waiting for the regulator (``submitted`` / ``acknowledged``), ask the portal; put
    what it says happened (the acknowledgement, the decision) in the inbox, as its webhooks would have.

    Event ids ``regulator:poll:<filing>:<status>`` make a repeated poll a no-op; the webhook's own event, if
    it arrives too, is one more row the waiting run no longer needs. One filing the portal cannot answer does
    not stop the others (the task then fails, so the problem shows)."""
    from execution_plane import inbox
    from execution_plane.hooks.http import ProviderError
    from execution_plane.hooks.regulator import DECISIONS, RegulatorHook
    from execution_plane.saga.db import connect

    conn = connect(application_name="ma_offer_filing_poller")
    hook = RegulatorHook()
    found: list[str] = []
    failures: list[str] = []
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT workflow_id, filing_id, status FROM ma_regulatory_filings"
                " WHERE status IN ('submitted', 'acknowledged')"
                " AND (%s::text[] IS NULL OR workflow_id = ANY(%s)) ORDER BY updated_at LIMIT %s",
                (
                    list(workflow_ids) if workflow_ids is not None else None,
                    list(workflow_ids) if workflow_ids is not None else None,
                    limit,
                ),
            )
            waiting = cur.fetchall()
        for wf, filing_id, seen in waiting:
            try:
                filing = hook.get_filing(filing_id)
            except ProviderError:
                log.exception("cannot read filing %s of %s", filing_id, wf)
                failures.append(filing_id)
                continue
            # What the run has not seen yet: an acknowledgement it recorded is not put in again.
            happened = (["acknowledged"] if filing.get("acknowledged_at") and seen == "submitted" else []) + (
                [filing["status"]] if filing.get("status") in DECISIONS else []
            )
            for status in happened:
                event = _event(filing, status)
                with conn, conn.cursor() as cur:
                    if inbox.insert_event(
                        cur, event["event_id"], "regulator", event["type"], event["correlation_key"], event
                    ):
                        log.warning(
                            "filing %s of %s is %s but no webhook said so: event %s added",
                            filing_id,
                            wf,
                            status,
                            event["event_id"],
                        )
                        found.append(event["event_id"])
    finally:
        hook.close()
        conn.close()
    if failures:
        raise RuntimeError(f"could not read filings {failures} (the others were polled)")
    return {"checked": len(waiting), "found": found}
