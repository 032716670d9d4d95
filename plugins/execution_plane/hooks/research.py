"""Company research and financial data APIs (read-only: no idempotency needed).

Both rate-limit their callers: over the limit they answer ``429`` with ``Retry-After``. The hooks honour it:
they wait as told and ask again, up to ``max_wait_s`` of waiting per request; past that the 429 is raised
(a ``ProviderError`` marked retryable), so the caller decides whether to go on without the data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from execution_plane.hooks.http import ProviderError, ProviderHook

log = logging.getLogger(__name__)

RATE_LIMITED = 429
DEFAULT_BACKOFF_S = 1.0  # a 429 without Retry-After: 1, 2, 4 ... seconds


def retry_after_s(header: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date); None if unreadable."""
    if not header:
        return None
    value = header.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RateLimitedHook(ProviderHook):
    """A provider hook that waits out ``429 Retry-After`` answers (``waits`` counts them, ``waited_s`` sums
    them, for the caller's records)."""

    def __init__(
        self,
        conn_id: str | None = None,
        *,
        timeout_s: float = 30.0,
        max_wait_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(conn_id, timeout_s=timeout_s)
        self.max_wait_s = max_wait_s
        self.sleep = sleep
        self.waits = 0
        self.waited_s = 0.0

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        accept = tuple(kwargs.pop("accept", ()))
        waited, attempt = 0.0, 0
        while True:
            resp = super().request(method, path, accept=(*accept, RATE_LIMITED), **kwargs)
            if resp.status_code != RATE_LIMITED or RATE_LIMITED in accept:
                return resp
            told = retry_after_s(resp.headers.get("Retry-After"))
            wait = told if told is not None else DEFAULT_BACKOFF_S * 2**attempt
            if waited + wait > self.max_wait_s:
                raise ProviderError(self.system, RATE_LIMITED, resp.text, retryable=True)
            log.info("%s rate limit: waiting %.1f s as told (Retry-After %s)", self.system, wait, told)
            self.sleep(wait)
            waited += wait
            attempt += 1
            self.waits += 1
            self.waited_s += wait


class ResearchHook(RateLimitedHook):
    system = "research"
    default_conn_name = "research_default"
    hook_name = "Company research"

    def company(self, domain: str) -> dict[str, Any]:
        return self.json("GET", f"/companies/{domain}")


class FinancialsHook(RateLimitedHook):
    system = "financials"
    default_conn_name = "financials_default"
    hook_name = "Financial data"

    def company(self, company_id: str) -> dict[str, Any]:
        return self.json("GET", f"/companies/{company_id}")
