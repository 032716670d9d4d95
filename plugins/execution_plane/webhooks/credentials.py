"""Airflow connections as the API server sees them, cached briefly.

Read with the Task SDK's ``airflow.sdk.Connection.get``, which asks the secrets backends of the process
it runs in (``airflow.sdk.execution_time.supervisor.ensure_secrets_backend_loaded``). The API server marks
itself a server process before it imports anything else (``airflow.api_fastapi.main`` sets
``_AIRFLOW_PROCESS_CONTEXT=server``), so in this plugin's routes the chain is: a configured secrets backend
(``[secrets] backend``), environment variables (``AIRFLOW_CONN_*``), then the metadata database, the same
connections the UI and ``airflow connections get`` show. Inside a task (``dag.test()`` drives these routes
from a task's process) the chain is the task's own: secrets backend, environment variables, Execution API.
``airflow.models.Connection.get_connection_from_secrets`` is deprecated: where Task SDK supervisor comms
exist it warns (DeprecationWarning) and forwards to this same call.

A signature check per request must not cost a metadata query each time, hence the short cache: a rotated
secret is picked up within ``TTL_S`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from execution_plane.webhooks.errors import WebhookError

log = logging.getLogger(__name__)

TTL_S = 60.0

_cache: dict[str, tuple[float, Any]] = {}
_lock = threading.Lock()
# The cache's clock (monotonic: a wall-clock step neither expires nor extends an entry).
_now = time.monotonic


def get_connection(conn_id: str) -> Any:
    """The Airflow ``Connection`` named ``conn_id`` (fetched at most once per ``TTL_S``)."""
    now = _now()
    with _lock:
        cached = _cache.get(conn_id)
    if cached is not None and now - cached[0] < TTL_S:
        return cached[1]
    # Imported here: the plugin module is imported by every component; only the API server needs this.
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        log.error("webhook ingress: Airflow connection %r is not defined", conn_id)
        raise WebhookError(503, "not_configured", "the webhook receiver is not configured") from None
    with _lock:
        _cache[conn_id] = (now, conn)
    return conn


def webhook_secret(conn_id: str) -> str:
    """The HMAC secret kept as the password of connection ``conn_id``."""
    secret = get_connection(conn_id).password
    if not secret:
        # An empty key would still produce valid-looking MACs: refuse everything instead.
        log.error("webhook ingress: Airflow connection %r has no password (HMAC secret)", conn_id)
        raise WebhookError(503, "not_configured", "the webhook receiver is not configured")
    return str(secret)


def clear_cache() -> None:
    """Forget cached connections (tests that change a connection; an operator rotating a secret now)."""
    with _lock:
        _cache.clear()
