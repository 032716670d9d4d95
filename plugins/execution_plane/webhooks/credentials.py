"""Airflow connections as the API server sees them, cached briefly.

Inside the API server there is no task supervisor, so ``airflow.sdk.BaseHook.get_connection`` finds nothing
(it only asks the Task SDK's backends); ``airflow.models.Connection.get_connection_from_secrets`` walks the
server's backends (environment variables, a configured secrets backend, then the metadata database).
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


def get_connection(conn_id: str) -> Any:
    """The Airflow ``Connection`` named ``conn_id`` (fetched at most once per ``TTL_S``)."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get(conn_id)
    if cached is not None and now - cached[0] < TTL_S:
        return cached[1]
    # Imported here: the plugin module is imported by every component; only the API server needs this.
    # Not airflow.sdk.Connection (the rule's advice): outside a task it never reaches the metadata database.
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models import Connection

    try:
        conn = Connection.get_connection_from_secrets(conn_id)  # noqa: AIR311
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
