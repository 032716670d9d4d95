"""Append-only, hash-chained audit log: each row's hash covers the previous row's hash.

Editing or deleting a row breaks the chain at that row (`verify_chain` finds it); a trigger in the
schema refuses UPDATE/DELETE outright. Appends serialize on an advisory lock so the chain stays linear.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64
_CHAIN_LOCK = 7_240_001  # advisory lock id of the audit chain


def _row_hash(prev_hash: str, at: str, actor: str, workflow_id: str | None, action: str, details: Any) -> str:
    body = json.dumps(
        [prev_hash, at, actor, workflow_id, action, details],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def append(cur: Any, *, actor: str, workflow_id: str | None, action: str, details: dict[str, Any]) -> str:
    """Append one row inside the caller's transaction; returns its hash."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_CHAIN_LOCK,))
    cur.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
    row = cur.fetchone()
    prev = row[0] if row else GENESIS
    cur.execute("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
    at = cur.fetchone()[0]
    # Hash the details as jsonb will give them back (1e20 -> 100000000000000000000, -0.0 -> 0.0), or
    # verify_chain would report an untouched row as altered.
    cur.execute("SELECT %s::jsonb", (json.dumps(details, default=str),))
    details_json = cur.fetchone()[0]
    digest = _row_hash(prev, at, actor, workflow_id, action, details_json)
    cur.execute(
        "INSERT INTO audit_log (at, actor, workflow_id, action, details, prev_hash, hash)"
        " VALUES (%s::timestamptz, %s, %s, %s, %s::jsonb, %s, %s)",
        (at, actor, workflow_id, action, json.dumps(details_json), prev, digest),
    )
    return digest


@dataclass(frozen=True)
class ChainBreak:
    row_id: int
    reason: str


def verify_chain(cur: Any) -> list[ChainBreak]:
    """Walk the whole chain; an empty list means no row was altered, removed or reordered."""
    cur.execute(
        "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor, workflow_id,"
        " action, details, prev_hash, hash FROM audit_log ORDER BY id"
    )
    breaks: list[ChainBreak] = []
    expected_prev = GENESIS
    for row_id, at, actor, wf, action, details, prev_hash, digest in cur.fetchall():
        if prev_hash != expected_prev:
            breaks.append(ChainBreak(row_id, "prev_hash does not match the previous row"))
        if _row_hash(prev_hash, at, actor, wf, action, details) != digest:
            breaks.append(ChainBreak(row_id, "row content does not match its hash"))
        expected_prev = digest
    return breaks


def format_at(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
