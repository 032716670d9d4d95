"""Product metrics (an analytics provider stand-in): a canary cohort registered once, and its figures over a
window (sessions, error rate, p95 latency, conversion, and the existing markets' conversion as baseline).

The figures follow the product: the cohort's sample is the sessions of the users its flag reaches now
(``include.sandbox.markets``), and the rest is a healthy, deterministic profile per cohort unless a test
chooses otherwise with ``POST /_sandbox/metrics/figures`` (``scenario``: ``pass`` / ``breach``, or any
figure by name), per market, until cleared.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from include.sandbox.markets import SESSIONS_PER_USER, users_in_share
from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.routes.flags import current_share
from include.sandbox.state import SandboxState, utc_now_iso

router = provider_router("metrics", "/metrics/v1")
control_router = APIRouter(prefix="/_sandbox/metrics", tags=["sandbox control"])

#: What ``scenario: breach`` reports: errors well past any sane guardrail, the rest healthy.
BREACH = {"error_rate": 0.065, "p95_latency_ms": 1450.0}


class CohortIn(BaseModel):
    cohort_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:-]+$")
    market: str = Field(pattern=r"^[A-Z]{2}$")
    flag_key: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)


class FiguresIn(BaseModel):
    market: str = Field(pattern=r"^[A-Z]{2}$")
    scenario: Literal["pass", "breach"] | None = None
    sample_size: int | None = Field(default=None, ge=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    p95_latency_ms: float | None = Field(default=None, ge=0)
    conversion_rate: float | None = Field(default=None, ge=0, le=1)
    baseline_conversion_rate: float | None = Field(default=None, gt=0, le=1)


def _cohorts(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return resources.setdefault("metrics_cohorts", {})


def _overrides(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return resources.setdefault("metrics_figures", {})


def healthy(cohort_id: str) -> dict[str, float]:
    """A healthy canary: a little noise, derived from the cohort id so every read agrees."""
    digest = hashlib.sha256(cohort_id.encode()).digest()
    baseline = 0.030 + digest[0] / 255 * 0.010
    return {
        "error_rate": round(0.004 + digest[1] / 255 * 0.005, 5),
        "p95_latency_ms": round(380 + digest[2] / 255 * 140, 1),
        "conversion_rate": round(baseline * (0.97 + digest[3] / 255 * 0.08), 5),
        "baseline_conversion_rate": round(baseline, 5),
    }


@router.post("/cohorts", status_code=201)
def create_cohort(body: CohortIn, call: CallDep) -> JSONResponse:
    """Register the canary cohort (once: again is 200, no effect)."""
    with call.state.transaction() as resources:
        cohorts = _cohorts(resources)
        if body.cohort_id in cohorts:
            return JSONResponse({"cohort_id": body.cohort_id, "created": False}, 200)
        cohorts[body.cohort_id] = {**body.model_dump(), "created_at": utc_now_iso()}
        call.record(body.cohort_id, body.model_dump())
    return JSONResponse({"cohort_id": body.cohort_id, "created": True}, 201)


@router.get("/cohorts/{cohort_id}/summary")
def cohort_summary(cohort_id: str, start: str, end: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        cohort = _cohorts(resources).get(cohort_id)
        if cohort is None:
            raise ProviderError(404, "cohort_not_found", f"cohort {cohort_id} not found", cohort_id=cohort_id)
        share = current_share(resources, cohort["flag_key"], cohort["market"])
        chosen = copy.deepcopy(_overrides(resources).get(cohort["market"], {}))
    figures: dict[str, Any] = {
        **healthy(cohort_id),
        "sample_size": len(users_in_share(cohort["flag_key"], cohort["market"], share)) * SESSIONS_PER_USER,
    }
    if chosen.pop("scenario", None) == "breach":
        figures.update(BREACH)
    figures.update(chosen)
    return {
        "cohort_id": cohort_id,
        "market": cohort["market"],
        "flag_key": cohort["flag_key"],
        "window": {"start": start, "end": end},
        "share_pct": share,
        **figures,
    }


@control_router.post("/figures")
def choose_figures(body: FiguresIn, request: Request) -> dict[str, Any]:
    """From now on, cohorts of ``market`` report these figures (a scenario, and/or figures by name)."""
    state: SandboxState = request.app.state.sandbox
    chosen = body.model_dump(exclude={"market"}, exclude_none=True)
    with state.transaction() as resources:
        _overrides(resources)[body.market] = chosen
    return {"market": body.market, "figures": chosen}


@control_router.get("/figures")
def list_figures(request: Request) -> dict[str, Any]:
    state: SandboxState = request.app.state.sandbox
    with state.view() as resources:
        return {"figures": copy.deepcopy(_overrides(resources))}


@control_router.delete("/figures")
def clear_figures(request: Request) -> dict[str, str]:
    state: SandboxState = request.app.state.sandbox
    with state.transaction() as resources:
        _overrides(resources).clear()
    return {"status": "cleared"}
