"""Regulator portal: filings (a merger-control notification, a market-entry licence, ...) submitted once,
followed from acknowledgement to a decision, withdrawn when the applicant abandons; control routes that
make the regulator act and send its signed webhook to ``{base}/events/regulator``.

A filing has a ``kind`` (what procedure: ``merger_control``, ``market_entry``, ...) and a ``subject`` (what
it is about: a deal id, a market code), so every workflow that files with a regulator uses the same portal.
Its life: ``submitted`` -> ``acknowledged`` (the regulator accepts the file as complete and the review clock
starts) -> ``cleared`` / ``cleared_with_conditions`` / ``refused``. An open or cleared filing can be
``withdrawn`` (the applicant abandons the transaction); a refused one is closed and cannot.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.state import SandboxState, new_id, stable_id, utc_now_iso
from include.sandbox.webhooks import WebhookDispatcher, dispatch

router = provider_router("regulator", "/regulator/v1")
control_router = APIRouter(prefix="/_sandbox/regulator", tags=["sandbox control"])

EVENTS_PATH = "/events/regulator"
RegulatorAction = Literal["acknowledge", "clear", "clear_with_conditions", "refuse"]
_TARGET_STATUS: dict[str, str] = {
    "acknowledge": "acknowledged",
    "clear": "cleared",
    "clear_with_conditions": "cleared_with_conditions",
    "refuse": "refused",
}
DECISIONS = ("cleared", "cleared_with_conditions", "refused")
# Which status an action may start from: a decision follows the acknowledgement, as at a real authority.
_FROM_STATUS: dict[str, tuple[str, ...]] = {
    "acknowledged": ("submitted",),
    "cleared": ("acknowledged",),
    "cleared_with_conditions": ("acknowledged",),
    "refused": ("acknowledged",),
}
WITHDRAWABLE = ("submitted", "acknowledged", "cleared", "cleared_with_conditions")


class FilingIn(BaseModel):
    kind: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    subject: str = Field(min_length=1, max_length=200)
    jurisdiction: str = Field(min_length=2, max_length=16)
    applicant: str = Field(min_length=1, max_length=200)
    summary: str = Field(min_length=1, max_length=4000)
    details: dict[str, Any] = Field(default_factory=dict)
    document_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    correlation_key: str = Field(min_length=1, max_length=300)


class WithdrawIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class RegulatorActIn(BaseModel):
    conditions: list[str] = Field(default_factory=list, max_length=50)
    reason: str | None = Field(default=None, max_length=2000)


def _filing(resources: dict[str, dict[str, Any]], filing_id: str) -> dict[str, Any]:
    filing = resources["filings"].get(filing_id)
    if filing is None:
        raise ProviderError(404, "filing_not_found", f"filing {filing_id} not found", filing_id=filing_id)
    return filing


def _reference(filing: dict[str, Any]) -> str:
    """The authority's case number, e.g. ``MERGER_CONTROL-EU-1A2B3C``: what its letters quote."""
    digest = hashlib.sha256(filing["filing_id"].encode()).hexdigest()[:6].upper()
    return f"{filing['kind'].upper()}-{filing['jurisdiction'].upper()}-{digest}"


def filing_event(filing: dict[str, Any]) -> dict[str, Any]:
    """The webhook for the filing's current status; its id is stable so a redelivery is recognisable."""
    status = filing["status"]
    return {
        "event_id": stable_id("evt", "regulator", filing["filing_id"], status),
        "type": f"filing.{status}",
        "correlation_key": filing["correlation_key"],
        "payload": {
            "filing_id": filing["filing_id"],
            "reference": filing["reference"],
            "kind": filing["kind"],
            "subject": filing["subject"],
            "jurisdiction": filing["jurisdiction"],
            "status": status,
            "conditions": list(filing["conditions"]),
            "reason": filing["decision_reason"],
        },
        "occurred_at": filing["acknowledged_at"] if status == "acknowledged" else filing["decided_at"],
    }


@router.post("/filings", status_code=201)
def submit_filing(body: FilingIn, call: CallDep) -> dict[str, Any]:
    now = utc_now_iso()
    filing: dict[str, Any] = {
        "filing_id": new_id("fil"),
        "status": "submitted",
        **body.model_dump(),
        "reference": "",
        "conditions": [],
        "decision_reason": None,
        "submitted_at": now,
        "acknowledged_at": None,
        "decided_at": None,
        "withdrawn_at": None,
        "withdrawal_reason": None,
    }
    filing["reference"] = _reference(filing)
    with call.state.transaction() as resources:
        resources["filings"][filing["filing_id"]] = filing
        call.record(filing["filing_id"], body.model_dump())
    return {"filing_id": filing["filing_id"], "reference": filing["reference"], "status": "submitted"}


@router.get("/filings/{filing_id}")
def get_filing(filing_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_filing(resources, filing_id))


@router.get("/filings")
def list_filings(
    call: CallDep, correlation_key: str | None = None, subject: str | None = None, kind: str | None = None
) -> dict[str, Any]:
    """Filings by correlation key, subject or kind: how an applicant finds a filing whose answer it lost."""
    wanted = {"correlation_key": correlation_key, "subject": subject, "kind": kind}
    with call.state.view() as resources:
        filings = [
            copy.deepcopy(filing)
            for filing in resources["filings"].values()
            if all(value is None or filing[name] == value for name, value in wanted.items())
        ]
    return {"count": len(filings), "filings": filings}


@router.post("/filings/{filing_id}/withdraw")
def withdraw_filing(filing_id: str, body: WithdrawIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        filing = _filing(resources, filing_id)
        status = filing["status"]
        if status == "withdrawn":
            raise ProviderError(
                409, "already_withdrawn", "filing is already withdrawn", filing_id=filing_id, status=status
            )
        if status not in WITHDRAWABLE:
            raise ProviderError(
                409,
                "filing_not_withdrawable",
                f"cannot withdraw a filing that is {status}",
                filing_id=filing_id,
                status=status,
            )
        filing.update(status="withdrawn", withdrawn_at=utc_now_iso(), withdrawal_reason=body.reason)
        call.record(filing_id, body.model_dump())
        return {
            "filing_id": filing_id,
            "reference": filing["reference"],
            "status": "withdrawn",
            "withdrawn_at": filing["withdrawn_at"],
        }


@control_router.post("/filings/{filing_id}/{action}")
def act_as_regulator(
    filing_id: str,
    action: RegulatorAction,
    request: Request,
    body: RegulatorActIn | None = None,
    deliver: bool = True,
    wait: bool = True,
) -> dict[str, Any]:
    """Acknowledge, clear, clear with conditions or refuse, as the authority would; repeating the same
    action redelivers its webhook (the same event id)."""
    state: SandboxState = request.app.state.sandbox
    target = _TARGET_STATUS[action]
    act = body or RegulatorActIn()
    if target == "cleared_with_conditions" and not act.conditions:
        raise ProviderError(422, "conditions_required", "a conditional clearance names its conditions")
    with state.transaction() as resources:
        filing = _filing(resources, filing_id)
        if filing["status"] != target:
            if filing["status"] not in _FROM_STATUS[target]:
                raise ProviderError(
                    409,
                    "invalid_transition",
                    f"cannot {action} a filing that is {filing['status']}",
                    filing_id=filing_id,
                    status=filing["status"],
                )
            now = utc_now_iso()
            if target == "acknowledged":
                filing.update(status=target, acknowledged_at=now)
            else:
                filing.update(
                    status=target,
                    decided_at=now,
                    conditions=list(act.conditions) if target == "cleared_with_conditions" else [],
                    decision_reason=act.reason,
                )
        event = filing_event(filing)
        snapshot = copy.deepcopy(filing)
    if not deliver:
        return {"filing": snapshot, "event": event, "queued": 0, "deliveries": []}
    dispatcher: WebhookDispatcher = request.app.state.webhooks
    return {
        "filing": snapshot,
        **dispatch(dispatcher, EVENTS_PATH, state.config.events_secret, event, wait=wait),
    }
