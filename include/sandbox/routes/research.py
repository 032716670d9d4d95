"""Read-only data providers: company research (firmographics) and a financial data API.

Both are rate limited as the real ones are: at most ``limit`` requests per ``window_s`` seconds each (default
10 per second); a request over the limit is not served but answered ``429 {"error": "rate_limited"}`` with
``Retry-After`` (whole seconds until the window ends). ``POST /_sandbox/rate-limits`` changes a system's limit
(``{"system": "research", "limit": 2, "window_s": 1}``; ``limit: null`` lifts it); a reset restores the
defaults. A domain under ``.invalid`` is a company the research provider does not know (404).
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from include.sandbox import derive
from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.state import SandboxState

research_router = provider_router("research", "/research/v1")
financials_router = provider_router("financials", "/financials/v1")
control_router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])

RATE_LIMITED = ("research", "financials")
DEFAULT_LIMIT = {"limit": 10, "window_s": 1.0}


class _Windows:
    """Fixed windows per system, in memory (a restarted provider forgets its counters too)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.windows: dict[str, tuple[float, int]] = {}

    def admit(self, system: str, limit: int, window_s: float) -> float | None:
        """None when the request may go ahead, else the seconds until the window ends."""
        now = time.monotonic()
        with self.lock:
            start, count = self.windows.get(system, (now, 0))
            if now - start >= window_s:
                start, count = now, 0
            if count >= limit:
                return start + window_s - now
            self.windows[system] = (start, count + 1)
            return None


_WINDOWS: dict[int, _Windows] = {}


def _limited(call: Any, system: str) -> JSONResponse | None:
    state: SandboxState = call.state
    with state.view() as resources:
        rule = resources["rate_limits"].get(system, DEFAULT_LIMIT)
    if rule.get("limit") is None:
        return None
    windows = _WINDOWS.setdefault(id(state), _Windows())
    wait_s = windows.admit(system, int(rule["limit"]), float(rule["window_s"]))
    if wait_s is None:
        return None
    retry_after = max(1, math.ceil(wait_s))
    return JSONResponse(
        {
            "error": "rate_limited",
            "message": f"over {rule['limit']} requests in {rule['window_s']} s; retry after {retry_after} s",
        },
        429,
        headers={"Retry-After": str(retry_after)},
    )


@research_router.get("/companies/{domain}", response_model=None)
def get_company(domain: str, call: CallDep) -> dict[str, Any] | JSONResponse:
    limited = _limited(call, "research")
    if limited is not None:
        return limited
    if domain.lower().endswith(".invalid"):
        raise ProviderError(404, "company_not_found", f"no company at {domain}", domain=domain)
    return derive.firmographics(domain.lower())


@financials_router.get("/companies/{company_id}", response_model=None)
def get_financials(
    company_id: str,
    call: CallDep,
    end_year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    years: Annotated[int, Query(ge=1, le=10)] = 3,
) -> dict[str, Any] | JSONResponse:
    limited = _limited(call, "financials")
    if limited is not None:
        return limited
    # Default to the last complete fiscal year; pass end_year for output that never changes.
    last_full_year = datetime.now(UTC).year - 1
    return derive.financials(company_id, end_year or last_full_year, years)


class RateLimitIn(BaseModel):
    system: str = Field(pattern="^(research|financials)$")
    limit: int | None = Field(ge=1, le=10_000)
    window_s: float = Field(default=1.0, gt=0, le=3600)


@control_router.post("/rate-limits")
def set_rate_limit(body: RateLimitIn, request: Request) -> dict[str, Any]:
    state: SandboxState = request.app.state.sandbox
    with state.transaction() as resources:
        resources["rate_limits"][body.system] = {"limit": body.limit, "window_s": body.window_s}
        _WINDOWS.pop(id(state), None)
        return {"rate_limits": {s: resources["rate_limits"].get(s, DEFAULT_LIMIT) for s in RATE_LIMITED}}


@control_router.get("/rate-limits")
def get_rate_limits(request: Request) -> dict[str, Any]:
    state: SandboxState = request.app.state.sandbox
    with state.view() as resources:
        return {"rate_limits": {s: resources["rate_limits"].get(s, DEFAULT_LIMIT) for s in RATE_LIMITED}}
