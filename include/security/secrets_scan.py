"""Finding secrets where they must never be: logs, XComs, rendered templates, stored rows.

Shared by the security tests (tests/security/test_secrets_hygiene.py scans a run's every trace for the
project's secrets) and by compliance_scan's control "no secrets in logs or XComs" (the same scan over the
task logs and XComs of a window of runs, for the secrets of every connection).

- ``secret_variants(name, value, login=None)``: the forms a secret leaks in: the value itself and, for a
  password with a login, the ``login:password`` base64 of an HTTP Basic header. Values shorter than
  ``MIN_SECRET_LENGTH`` are left out: they cannot be told apart from ordinary text.
- ``leaks(text, secrets)``: the names of the secrets in ``text``, raw or JSON-escaped (a stored document).
- ``pattern_hits(text)``: credentials recognisable by their shape alone (a private key block, a JWT, a bearer
  header with a token), for secrets the scan was not given.
"""

from __future__ import annotations

import base64
import json
import re

MIN_SECRET_LENGTH = 8
"""Shorter values (an empty local Postgres password) cannot be told apart from ordinary text."""

PATTERNS: dict[str, re.Pattern[str]] = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"),
    "bearer token": re.compile(r"(?i)\bauthorization\W{1,4}bearer\s+[A-Za-z0-9._~+/=-]{20,}"),
}


def secret_variants(name: str, value: str | None, login: str | None = None) -> dict[str, str]:
    """name -> each form the secret could leak in (only those long enough to be recognised)."""
    if not value:
        return {}
    found = {name: value}
    if login:
        found[f"{name} (Basic header)"] = base64.b64encode(f"{login}:{value}".encode()).decode()
    return {key: secret for key, secret in found.items() if len(secret) >= MIN_SECRET_LENGTH}


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """Names of the secrets found in ``text`` (raw, or JSON-escaped as a stored document would hold it)."""
    return [name for name, value in secrets.items() if value in text or json.dumps(value)[1:-1] in text]


def pattern_hits(text: str) -> list[str]:
    """Names of the credential shapes found in ``text``."""
    return [name for name, pattern in PATTERNS.items() if pattern.search(text)]
