"""The HTTP base every provider hook shares: auth from the connection, Idempotency-Key, error mapping."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Self

import httpx
from airflow.sdk import BaseHook

from execution_plane import telemetry

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"


class ProviderError(Exception):
    """An outside system refused or failed. ``retryable``: a later identical call may succeed."""

    def __init__(self, system: str, status: int, body: str, *, retryable: bool) -> None:
        super().__init__(f"{system} answered HTTP {status}: {body[:500]}")
        self.system = system
        self.status = status
        self.body = body
        self.retryable = retryable

    def refusal(self, status: int, error: str) -> dict[str, Any] | None:
        """The provider's JSON error body when it answered ``status`` with ``{"error": error, ...}``, else
        None: how a workflow recognises a refusal it knows how to handle (its other fields say the rest)."""
        if self.status != status:
            return None
        try:
            body = json.loads(self.body or "{}")
        except ValueError:
            return None
        return body if isinstance(body, dict) and body.get("error") == error else None


def _error_kind(status: int) -> str:
    return "http_429" if status == 429 else "http_5xx" if status >= 500 else "http_4xx"


class ProviderHook(BaseHook):
    """Talks to one provider over the connection ``conn_id``; ``system`` names it in logs and errors.

    A context manager: ``with ErpHook() as erp: ...`` closes its HTTP client on the way out, however the
    block ends."""

    conn_name_attr = "conn_id"
    hook_name = "Execution Plane provider"
    system = "provider"
    default_conn_name = ""

    def __init__(self, conn_id: str | None = None, *, timeout_s: float = 30.0) -> None:
        super().__init__()
        self.conn_id = conn_id or self.default_conn_name
        self.timeout_s = timeout_s
        self._client: httpx.Client | None = None

    def client(self) -> httpx.Client:
        if self._client is None:
            conn = self.get_connection(self.conn_id)
            host = conn.host or ""
            base = host if "://" in host else f"{conn.schema or 'https'}://{host}"
            if conn.port and "://" not in host:
                base = f"{base}:{conn.port}"
            headers = {"Authorization": f"Bearer {conn.password}"} if conn.password else {}
            self._client = httpx.Client(base_url=base.rstrip("/"), headers=headers, timeout=self.timeout_s)
        return self._client

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        accept: tuple[int, ...] = (),
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if idempotency_key:
            all_headers[IDEMPOTENCY_HEADER] = idempotency_key
        started = time.monotonic()
        try:
            resp = self.client().request(
                method, path, json=json, content=content, params=params, headers=all_headers
            )
        except httpx.TransportError as exc:  # timeouts, refused connections: the call may be retried
            self._measure(started, "transport")
            raise ProviderError(self.system, 0, f"{type(exc).__name__}: {exc}", retryable=True) from exc
        failed = resp.status_code >= 400 and resp.status_code not in accept
        self._measure(started, _error_kind(resp.status_code) if failed else None)
        if failed:
            # Retry-After on any status (e.g. 409 "idempotency key in use": the first request with this key
            # is still running) is the provider saying the same request will do later.
            retryable = (
                resp.status_code >= 500
                or resp.status_code in (408, 425, 429)
                or "Retry-After" in resp.headers
            )
            raise ProviderError(self.system, resp.status_code, resp.text, retryable=retryable)
        if resp.headers.get("Idempotent-Replayed") == "true":
            log.info("%s replayed its stored answer for key %s", self.system, idempotency_key)
        return resp

    def _measure(self, started: float, error: str | None) -> None:
        """Every outside call's latency by system, and its errors by kind (execution_plane.telemetry)."""
        elapsed_ms = (time.monotonic() - started) * 1000
        telemetry.timing(
            "outside_call.duration", elapsed_ms, system=self.system, outcome="error" if error else "ok"
        )
        if error:
            telemetry.incr("outside_call.errors", system=self.system, kind=error)

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body = self.request(method, path, **kwargs).json()
        return body if isinstance(body, dict) else {"items": body}

    def undo(self, path: str, *, reason: str, idempotency_key: str, done: tuple[str, ...]) -> dict[str, Any]:
        """POST an undo ``{"reason"}``. A 409 whose ``error`` is one of ``done`` (undone before, or closed by
        the other side) reaches the undo's goal: success, marked ``already``; any other 409 is a refusal."""
        resp = self.request(
            "POST", path, json={"reason": reason[:2000]}, idempotency_key=idempotency_key, accept=(409,)
        )
        body: dict[str, Any] = resp.json()
        if resp.status_code == 409:
            if body.get("error") not in done:
                raise ProviderError(self.system, 409, resp.text, retryable=False)
            return {**body, "already": True}
        return body

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
