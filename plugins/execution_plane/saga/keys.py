"""Idempotency keys: built from the workflow's business identity and the step, in one place.

Never from try_number or the clock: a retry, a re-run of the same request and a duplicate webhook
must all land on the same key.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

# The DAG param every durable workflow takes: its business key, part of the workflow id.
REQUEST_ID_PARAM = "request_id"

_SAFE = re.compile(r"[^A-Za-z0-9._:-]")
MAX_KEY_LENGTH = 200  # providers commonly cap Idempotency-Key at 255 characters


def workflow_id(dag_id: str, request_id: str) -> str:
    """One workflow instance = one DAG + one business request id (a CRM opportunity, a deal, ...)."""
    return f"{dag_id}:{request_id}"


def step_key(workflow: str, step: str, *parts: str) -> str:
    """Readable when short (it shows in task logs and provider dashboards), hashed when long."""
    key = ":".join([workflow, step, *parts])
    if len(key) <= MAX_KEY_LENGTH and not _SAFE.search(key):
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{_SAFE.sub('_', key)[: MAX_KEY_LENGTH - 33]}~{digest}"


def message_id(workflow: str, step: str, recipient: str, template: str) -> str:
    """The outbound-governance id: the same message to the same person from the same step is one message."""
    raw = "\x1f".join([workflow, step, recipient.strip().lower(), template])
    return "msg_" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def request_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()
