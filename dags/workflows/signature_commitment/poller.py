"""The status-poll fallback for a lost eSign webhook (esign_status_poller_dag.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from workflows.signature_commitment.common import TERMINAL_ENVELOPE_STATUSES

log = logging.getLogger(__name__)


def poll_envelope_statuses(*, workflow_ids: Sequence[str] | None = None, limit: int = 500) -> dict[str, Any]:
    """For each request still waiting ('sent'), ask the provider; put a terminal status in the inbox.

    The event lands in ``external_events`` exactly as a webhook's would (same source, type and correlation
    key), so the waiting trigger wakes through the same NOTIFY. Its id ``esign:poll:<envelope>:<status>``
    makes a repeated poll a no-op; the webhook's own event, if it arrives too, is another row the sensor
    no longer needs. One envelope the provider cannot answer does not stop the others.
    """
    from execution_plane import inbox
    from execution_plane.hooks.esign import EsignHook
    from execution_plane.hooks.http import ProviderError
    from execution_plane.saga.db import connect

    conn = connect(application_name="esign_status_poller")
    hook = EsignHook()
    found: list[str] = []
    failures: list[str] = []
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT workflow_id, envelope_id FROM signature_requests WHERE status = 'sent'"
                " AND envelope_id IS NOT NULL AND (%s::text[] IS NULL OR workflow_id = ANY(%s))"
                " ORDER BY updated_at LIMIT %s",
                (
                    list(workflow_ids) if workflow_ids is not None else None,
                    list(workflow_ids) if workflow_ids is not None else None,
                    limit,
                ),
            )
            waiting = cur.fetchall()
        for wf, envelope_id in waiting:
            try:
                envelope = hook.get_envelope(envelope_id)
            except ProviderError:
                log.exception("cannot read envelope %s of %s", envelope_id, wf)
                failures.append(envelope_id)
                continue
            status = envelope.get("status")
            if status not in TERMINAL_ENVELOPE_STATUSES:
                continue
            event_id = f"esign:poll:{envelope_id}:{status}"
            payload = {
                "event_id": event_id,
                "type": f"envelope.{status}",
                "envelope_id": envelope_id,
                "correlation_key": wf,
                "occurred_at": envelope.get(f"{status}_at"),
                "via": "status_poll",
            }
            with conn, conn.cursor() as cur:
                if inbox.insert_event(cur, event_id, "esign", f"envelope.{status}", wf, payload):
                    log.warning(
                        "envelope %s of %s is %s but no webhook said so: event %s added",
                        envelope_id,
                        wf,
                        status,
                        event_id,
                    )
                    found.append(event_id)
    finally:
        hook.close()
        conn.close()
    if failures:
        raise RuntimeError(f"could not read envelopes {failures} (the others were polled)")
    return {"checked": len(waiting), "found": found}
