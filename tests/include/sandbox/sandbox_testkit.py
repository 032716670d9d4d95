"""Helpers shared by the sandbox tests: credentials, secrets, a request body, and a webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from include.security.hmac_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

AUTH = {"Authorization": "Bearer test-token"}
SECRETS = {"esign": "esign-test-secret", "events": "events-test-secret", "crm": "crm-test-secret"}


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def verify(self, secret: str) -> None:
        verify(
            secret,
            self.headers.get(TIMESTAMP_HEADER),
            self.headers.get(SIGNATURE_HEADER),
            self.body,
            now=time.time(),
        )


@dataclass
class Receiver:
    """Records every webhook POST; answers with queued statuses first, then 200."""

    base_url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200

    def received(self, path: str | None = None) -> list[Delivery]:
        with self.lock:
            return [delivery for delivery in self.deliveries if path is None or delivery.path == path]

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.received()) >= count:
                return self.received()
            time.sleep(0.01)
        raise AssertionError(f"expected {count} deliveries, got {len(self.received())}")


def handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name: value for name, value in self.headers.items()}
            with receiver.lock:
                receiver.deliveries.append(Delivery(self.path, headers, body))
            status = receiver.next_status()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    return Handler


def envelope_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "document_sha256": "a" * 64,
        "document_uri": "docstore://objects/" + "a" * 64,
        "subject": "Term sheet for partner P-1",
        "signers": [{"email": "ceo@partner.example", "name": "Dana Partner"}],
        "correlation_key": "term-sheet:P-1",
    }
    body.update(overrides)
    return body
