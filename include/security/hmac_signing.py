"""HMAC-SHA256 webhook signatures shared by the sandbox (sender) and our webhook ingress (receiver).

The signed message is ``f"{timestamp}.".encode() + body``: binding the timestamp into the MAC lets the
receiver reject replays of an old, validly signed request once it falls outside the window.
"""

from __future__ import annotations

import hashlib
import hmac
import re

TIMESTAMP_HEADER = "X-EP-Timestamp"
SIGNATURE_HEADER = "X-EP-Signature"
SIGNATURE_PREFIX = "sha256="
DEFAULT_WINDOW_S = 300

# Strict digits only: int() would also accept "+1", " 1", "1_000", which a sender never produces.
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
_SIGNATURE_RE = re.compile(r"sha256=[0-9a-fA-F]{64}")


class SignatureError(Exception):
    """A request failed signature verification; ``field`` names the header at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _require_secret(secret: str) -> None:
    # An empty key still yields a valid-looking MAC, so a missing secret would silently accept forgeries.
    if not secret:
        raise ValueError("HMAC secret must be a non-empty string")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the ``sha256=<hex>`` signature of ``body`` sent at ``timestamp`` (unix seconds)."""
    _require_secret(secret)
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(
    secret: str,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    *,
    now: float,
    window_s: int = DEFAULT_WINDOW_S,
) -> None:
    """Raise :class:`SignatureError` unless the headers carry a fresh, valid signature of ``body``."""
    _require_secret(secret)
    if timestamp_header is None or not timestamp_header.strip():
        raise SignatureError(TIMESTAMP_HEADER, "missing header")
    timestamp_text = timestamp_header.strip()
    if not _TIMESTAMP_RE.fullmatch(timestamp_text):
        raise SignatureError(TIMESTAMP_HEADER, "timestamp must be an integer number of unix seconds")
    timestamp = int(timestamp_text)
    if abs(now - timestamp) > window_s:
        raise SignatureError(TIMESTAMP_HEADER, f"timestamp outside the {window_s}s window")
    if signature_header is None or not signature_header.strip():
        raise SignatureError(SIGNATURE_HEADER, "missing header")
    signature_text = signature_header.strip()
    if not _SIGNATURE_RE.fullmatch(signature_text):
        raise SignatureError(SIGNATURE_HEADER, "malformed signature, expected sha256=<64 hex chars>")
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature_text.lower().encode()):
        raise SignatureError(SIGNATURE_HEADER, "signature mismatch")


def signed_headers(secret: str, body: bytes, now: float) -> dict[str, str]:
    """Headers a sender attaches to a JSON ``body`` posted at ``now``."""
    timestamp = int(now)
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
