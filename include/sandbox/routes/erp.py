"""Finance / ERP (SAP/NetSuite stand-in): a company's ledgers and bank accounts, consolidation of its ledgers
into a parent's group ledger (unlinked again on a rollback), and bank mandates that the bank confirms later.

A company exists for any id (derived: its currency, 1-3 ledgers, 1-2 bank accounts at named banks, its
controller's email). A consolidation links ledgers at once; a linked ledger cannot be linked again (409
``ledger_already_consolidated``). A bank mandate (the acquirer's treasury as signatory of the target's
account) is ``pending`` until the bank acts: ``/_sandbox/erp/bank-mandates/{id}/activate|reject`` plays the
bank and sends the signed ``mandate.activated`` / ``mandate.rejected`` webhook to ``{base}/events/erp`` with
the mandate's correlation key (the ERP relays its banks' confirmations). Revoking ends a pending or active
mandate; a rejected one is closed (409 ``mandate_not_revocable``).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from include.sandbox import derive
from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.provider_acts import settle_and_tell
from include.sandbox.state import new_id, stable_id, utc_now_iso

router = provider_router("erp", "/erp/v1")
control_router = APIRouter(prefix="/_sandbox/erp", tags=["sandbox control"])

EVENTS_PATH = "/events/erp"
BANKS = ("Northbank", "Harbor Trust", "Union Capital", "Cedar Savings")
CURRENCIES = ("EUR", "USD", "GBP", "SEK")
BankAction = Literal["activate", "reject"]
_TARGET_STATUS = {"activate": "active", "reject": "rejected"}


def _n(*parts: object) -> int:
    return int(derive.hex_digest(*parts)[:8], 16)


def company_finance(company_id: str) -> dict[str, Any]:
    """The company's finance master data: the same id always gives the same ledgers and accounts."""
    currency = CURRENCIES[_n("erp-currency", company_id) % len(CURRENCIES)]
    ledgers = [
        {"ledger_id": f"{company_id}-L{n}", "name": name, "currency": currency}
        for n, name in enumerate(
            ("General ledger", "Fixed assets", "Payroll")[: 1 + _n("erp-l", company_id) % 3]
        )
    ]
    accounts = []
    for n in range(1, 2 + _n("erp-a", company_id) % 2):
        bank = BANKS[_n("erp-bank", company_id, n) % len(BANKS)]
        accounts.append(
            {
                "account_id": f"{company_id}-BA{n}",
                "bank": bank,
                "bank_email": f"mandates@{bank.lower().replace(' ', '-')}.example",
                "currency": currency,
            }
        )
    domain = f"{company_id.lower().replace('_', '-').replace('.', '-')}.example"
    return {
        "company_id": company_id,
        "currency": currency,
        "ledgers": ledgers,
        "bank_accounts": accounts,
        "controller_email": f"controller@{domain}",
    }


class ConsolidationIn(BaseModel):
    parent_company_id: str = Field(min_length=1, max_length=128)
    company_id: str = Field(min_length=1, max_length=128)
    ledger_ids: list[str] = Field(min_length=1, max_length=50)


class MandateIn(BaseModel):
    company_id: str = Field(min_length=1, max_length=128)
    account_id: str = Field(min_length=1, max_length=128)
    signatories: list[str] = Field(min_length=1, max_length=20)
    correlation_key: str = Field(min_length=1, max_length=300)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


def _get(resources: dict[str, dict[str, Any]], kind: str, item_id: str, what: str) -> dict[str, Any]:
    item = resources[kind].get(item_id)
    if item is None:
        raise ProviderError(404, f"{what}_not_found", f"{what} {item_id} not found", id=item_id)
    return item


@router.get("/companies/{company_id}")
def get_company(company_id: str, call: CallDep) -> dict[str, Any]:
    return company_finance(company_id)


@router.post("/consolidations", status_code=201)
def link_ledgers(body: ConsolidationIn, call: CallDep) -> dict[str, Any]:
    known = {ledger["ledger_id"] for ledger in company_finance(body.company_id)["ledgers"]}
    unknown = sorted(set(body.ledger_ids) - known)
    if unknown:
        raise ProviderError(422, "unknown_ledgers", f"not ledgers of {body.company_id}", ledger_ids=unknown)
    with call.state.transaction() as resources:
        linked = {
            ledger
            for c in resources["consolidations"].values()
            if c["status"] == "linked"
            for ledger in c["ledger_ids"]
        }
        taken = sorted(set(body.ledger_ids) & linked)
        if taken:
            raise ProviderError(
                409, "ledger_already_consolidated", "ledgers are consolidated already", ledger_ids=taken
            )
        consolidation = {
            "consolidation_id": new_id("cns"),
            **body.model_dump(),
            "status": "linked",
            "linked_at": utc_now_iso(),
            "unlinked_at": None,
        }
        resources["consolidations"][consolidation["consolidation_id"]] = consolidation
        call.record(consolidation["consolidation_id"], body.model_dump())
    return {"consolidation_id": consolidation["consolidation_id"], "status": "linked"}


@router.get("/consolidations/{consolidation_id}")
def get_consolidation(consolidation_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_get(resources, "consolidations", consolidation_id, "consolidation"))


@router.post("/consolidations/{consolidation_id}/unlink")
def unlink_ledgers(consolidation_id: str, body: ReasonIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        consolidation = _get(resources, "consolidations", consolidation_id, "consolidation")
        if consolidation["status"] == "unlinked":
            raise ProviderError(409, "already_unlinked", "ledgers are unlinked already", id=consolidation_id)
        consolidation.update(status="unlinked", unlinked_at=utc_now_iso(), unlink_reason=body.reason)
        call.record(consolidation_id, body.model_dump())
        return {"consolidation_id": consolidation_id, "status": "unlinked"}


@router.post("/bank-mandates", status_code=201)
def request_mandate(body: MandateIn, call: CallDep) -> dict[str, Any]:
    accounts = {a["account_id"]: a for a in company_finance(body.company_id)["bank_accounts"]}
    if body.account_id not in accounts:
        raise ProviderError(
            422, "unknown_account", f"not an account of {body.company_id}", id=body.account_id
        )
    now = utc_now_iso()
    mandate = {
        "mandate_id": new_id("mnd"),
        **body.model_dump(),
        "bank": accounts[body.account_id]["bank"],
        "status": "pending",
        "requested_at": now,
        "active_at": None,
        "rejected_at": None,
        "revoked_at": None,
        "reason": None,
    }
    with call.state.transaction() as resources:
        resources["mandates"][mandate["mandate_id"]] = mandate
        call.record(mandate["mandate_id"], body.model_dump())
    return {"mandate_id": mandate["mandate_id"], "bank": mandate["bank"], "status": "pending"}


@router.get("/bank-mandates/{mandate_id}")
def get_mandate(mandate_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return copy.deepcopy(_get(resources, "mandates", mandate_id, "mandate"))


@router.get("/bank-mandates")
def list_mandates(call: CallDep, correlation_key: str | None = None) -> dict[str, Any]:
    with call.state.view() as resources:
        found = [
            copy.deepcopy(m)
            for m in resources["mandates"].values()
            if correlation_key is None or m["correlation_key"] == correlation_key
        ]
    return {"count": len(found), "mandates": found}


@router.post("/bank-mandates/{mandate_id}/revoke")
def revoke_mandate(mandate_id: str, body: ReasonIn, call: CallDep) -> dict[str, Any]:
    with call.state.transaction() as resources:
        mandate = _get(resources, "mandates", mandate_id, "mandate")
        if mandate["status"] == "revoked":
            raise ProviderError(409, "already_revoked", "mandate is revoked already", id=mandate_id)
        if mandate["status"] == "rejected":
            raise ProviderError(
                409,
                "mandate_not_revocable",
                "the bank rejected this mandate",
                id=mandate_id,
                status="rejected",
            )
        mandate.update(status="revoked", revoked_at=utc_now_iso(), reason=body.reason)
        call.record(mandate_id, body.model_dump())
        return {"mandate_id": mandate_id, "status": "revoked"}


def mandate_event(mandate: dict[str, Any]) -> dict[str, Any]:
    """The webhook for the mandate's current status; its id is stable so a redelivery is recognisable."""
    status = mandate["status"]
    return {
        "event_id": stable_id("evt", "erp", mandate["mandate_id"], status),
        "type": f"mandate.{status if status == 'rejected' else 'activated'}",
        "correlation_key": mandate["correlation_key"],
        "payload": {
            "mandate_id": mandate["mandate_id"],
            "account_id": mandate["account_id"],
            "bank": mandate["bank"],
            "status": status,
            "reason": mandate["reason"],
        },
        "occurred_at": mandate["active_at"] if status == "active" else mandate["rejected_at"],
    }


class BankActIn(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


@control_router.post("/bank-mandates/{mandate_id}/{action}")
def act_as_bank(
    mandate_id: str,
    action: BankAction,
    request: Request,
    body: BankActIn | None = None,
    deliver: bool = True,
    wait: bool = True,
) -> dict[str, Any]:
    """The bank activates or rejects a pending mandate; repeating the same action redelivers its webhook."""
    return settle_and_tell(
        request,
        key="mandate",
        noun="mandate",
        resource_id=mandate_id,
        get=lambda resources: _get(resources, "mandates", mandate_id, "mandate"),
        waiting="pending",
        action=action,
        target=_TARGET_STATUS[action],
        refused="rejected",
        reason=(body.reason if body else None) or "signatory documents incomplete",
        event_of=mandate_event,
        events_path=EVENTS_PATH,
        deliver=deliver,
        wait=wait,
    )
