"""Outgoing webhooks: signed like the providers sign theirs, delivered from a background thread with
retries, and optionally delayed or duplicated so the ingress's dedup and replay window get exercised."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import httpx

from include.sandbox.state import SandboxState
from include.security.hmac_signing import signed_headers

# Providers retry on transport errors and "try again later" answers; any other 4xx means the receiver
# looked at the request and refused it, so sending it again cannot help.
_RETRYABLE_STATUS = {408, 425, 429}


@dataclass(frozen=True)
class _Job:
    delivery_id: str
    url: str | None
    secret: str
    body: bytes
    event_id: str
    copy: int


class WebhookDispatcher:
    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._queue: queue.Queue[tuple[_Job, Future[dict[str, Any]]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def send(self, path: str, secret: str, event: dict[str, Any]) -> list[Future[dict[str, Any]]]:
        """Queue ``event`` for ``{webhook_base}{path}`` (``webhook_duplicates`` copies, identical bodies)."""
        config = self._state.config
        url = config.webhook_base.rstrip("/") + path if config.webhook_base else None
        body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
        futures: list[Future[dict[str, Any]]] = []
        for copy in range(1, max(1, config.webhook_duplicates) + 1):
            job = _Job(f"dlv_{uuid.uuid4().hex[:16]}", url, secret, body, str(event["event_id"]), copy)
            future: Future[dict[str, Any]] = Future()
            self._queue.put((job, future))
            futures.append(future)
        self._ensure_worker()
        return futures

    def wait_timeout_s(self, copies: int) -> float:
        """Upper bound on how long ``copies`` deliveries can take, for callers that wait for the results."""
        config = self._state.config
        attempts = max(1, config.webhook_max_attempts)
        per_copy = config.webhook_delay_s + attempts * config.webhook_timeout_s
        per_copy += config.webhook_backoff_s * attempts * (attempts - 1) / 2
        return copies * per_copy + 5.0

    def close(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join(timeout=5)
                self._thread = None

    def _ensure_worker(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                # Daemon: a sandbox that is being shut down must not hang on a receiver that is gone.
                self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        with httpx.Client() as client:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                job, future = item
                try:
                    future.set_result(self._deliver(client, job))
                except Exception as exc:  # the caller waiting on the future gets the error instead of a hang
                    future.set_exception(exc)

    def _deliver(self, client: httpx.Client, job: _Job) -> dict[str, Any]:
        config = self._state.config
        if config.webhook_delay_s > 0:
            time.sleep(config.webhook_delay_s)
        attempts = max(1, config.webhook_max_attempts)
        record: dict[str, Any] = {}
        for attempt in range(1, attempts + 1):
            status_code: int | None = None
            error: str | None = None
            if job.url is None:
                error = "webhook_base is not configured"
            else:
                # Signed per attempt, as providers do: a retry carries a fresh timestamp.
                headers = signed_headers(job.secret, job.body, time.time())
                headers["X-EP-Delivery-Id"] = job.delivery_id
                try:
                    response = client.post(
                        job.url, content=job.body, headers=headers, timeout=config.webhook_timeout_s
                    )
                    status_code = response.status_code
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
            ok = status_code is not None and 200 <= status_code < 300
            record = self._state.record_delivery(
                {
                    "delivery_id": job.delivery_id,
                    "event_id": job.event_id,
                    "url": job.url,
                    "copy": job.copy,
                    "attempt": attempt,
                    "status_code": status_code,
                    "ok": ok,
                    "error": error,
                }
            )
            retryable = job.url is not None and (
                status_code is None or status_code >= 500 or status_code in _RETRYABLE_STATUS
            )
            if ok or not retryable or attempt == attempts:
                break
            time.sleep(config.webhook_backoff_s * attempt)
        return record


def dispatch(
    dispatcher: WebhookDispatcher, path: str, secret: str, event: dict[str, Any], *, wait: bool
) -> dict[str, Any]:
    """Send ``event`` and, when ``wait``, block until every copy has its final delivery result."""
    futures = dispatcher.send(path, secret, event)
    deliveries = (
        [future.result(timeout=dispatcher.wait_timeout_s(len(futures))) for future in futures] if wait else []
    )
    return {"event": event, "queued": len(futures), "deliveries": deliveries}
