"""Audit events: what every component writes to the audit log, validated before anything is chained.

The hash chain itself is the toolkit's (``execution_plane.saga.audit``); this is the event's shape and the
rules an event must meet to be stored as it was sent (JSON that jsonb keeps unchanged, bounded size).
"""

from __future__ import annotations

from include.services.audit.models import (
    MAX_DETAILS_BYTES,
    MAX_DETAILS_DEPTH,
    AuditEvent,
    AuditWrite,
    chained_details,
)

__all__ = ["MAX_DETAILS_BYTES", "MAX_DETAILS_DEPTH", "AuditEvent", "AuditWrite", "chained_details"]
