"""Every id derived from a workflow's business identity, made in one place.

Idempotency keys, message ids, approval request ids, correlation keys and the compensation run id are
built from the workflow id (``<dag_id>:<request_id>``) and the step, never from try_number or the clock: a
retry, a re-run of the same request and a duplicate webhook must all land on the same id.

Python code calls these functions; DAG templates call the same functions as the ``ep`` macro
(``{{ ep.workflow_id(dag.dag_id, params.request_id) }}``, see ``execution_plane.durable``). The module
imports nothing beyond the standard library: DAG files load it while they are parsed.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

# The DAG param every durable workflow takes: its business key, part of the workflow id.
REQUEST_ID_PARAM = "request_id"

# A request id (and the CRM's partner/deal ids): safe inside run ids, keys, URLs and log lines. No ':'
# (the workflow id is ``<dag_id>:<request_id>``) and no '..' (Airflow refuses it inside run ids).
ID_PATTERN = r"^(?!.*\.\.)[A-Za-z0-9._-]{1,64}$"
DAG_ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
WORKFLOW_ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}:(?!.*\.\.)[A-Za-z0-9._-]{1,64}$"
COMPENSATION_RUN_PREFIX = "compensate__"

_SAFE = re.compile(r"[^A-Za-z0-9._:-]")
MAX_KEY_LENGTH = 200  # providers commonly cap Idempotency-Key at 255 characters


def workflow_id(dag_id: str, request_id: str) -> str:
    """One workflow instance = one DAG + one business request id (a CRM opportunity, a deal, ...)."""
    return f"{dag_id}:{request_id}"


def split_workflow_id(workflow: str) -> tuple[str, str]:
    """(dag_id, request_id) of a workflow id."""
    dag_id, _, request_id = workflow.partition(":")
    return dag_id, request_id


def approval_request_id(workflow: str, stage: str) -> str:
    """The approval bridge's request id: one request per (workflow, stage), one decision."""
    return f"{workflow}:{stage}"


def correlation_key(workflow: str, *parts: str | int) -> str:
    """What an outside party echoes back to reach one wait of a workflow (the workflow id, or the workflow id
    and the wait's own parts, e.g. ``correlation_key(wf, "round", 2)``)."""
    return ":".join([workflow, *(str(part) for part in parts)])


def outcome_key(workflow: str) -> str:
    """The correlation key of a workflow's outcome events (what a parent waiting for it waits on)."""
    return correlation_key(workflow, "outcome")


def child_request_id(parent_request_id: str, stage: str) -> str:
    """The request id of the child workflow a parent starts at ``stage``: the same for every retry and
    re-run of the parent, a valid request id (``ID_PATTERN``), readable when it fits."""
    readable = f"{parent_request_id}.{re.sub(r'[^A-Za-z0-9_-]', '-', stage)}"
    if len(readable) <= 64 and ".." not in readable:
        return readable
    digest = hashlib.sha256(f"{parent_request_id}\x1f{stage}".encode()).hexdigest()[:16]
    return f"{parent_request_id[:40].rstrip('.')}.{digest}"


def child_run_id(parent_workflow: str, stage: str) -> str:
    """The Airflow run id of that child: deterministic, so a second start is a 409, not a second child."""
    return f"child__{parent_workflow}__{stage}"


def compensation_run_id(workflow: str) -> str:
    """The run id of a workflow's compensation: deterministic, a second start is a 409, not a second run."""
    return f"{COMPENSATION_RUN_PREFIX}{workflow}"


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
