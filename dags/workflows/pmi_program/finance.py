"""Finance on Day 1: the target's ledgers consolidated into the acquirer's group ledger, and a bank mandate
requested for each of its bank accounts (the acquirer's treasury as signatory). The banks confirm later: the
ERP relays each answer by signed webhook (``mandate.activated`` / ``mandate.rejected`` to
``/webhooks/events/erp``, correlation key ``pmi_program:<request_id>:mandate:<account_id>``), and the Day-60
checklist asks the ERP for every mandate's status.

Undo, newest first: each mandate revoked, then the ledgers unlinked; the target's controller is told once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execution_plane.saga.compensations import Compensation, compensation
from workflows.pmi_program.common import separated

if TYPE_CHECKING:
    from execution_plane.durable import Run
    from execution_plane.hooks.erp import ErpHook
    from execution_plane.saga.steps import Saga
    from workflows.pmi_program.domain.plan import BankAccount, IntegrationPlan


def treasury(acquirer_domain: str) -> str:
    return f"treasury@{acquirer_domain}"


def integrate(run: Run, plan: dict[str, Any], day1: dict[str, Any]) -> dict[str, Any]:
    from execution_plane.hooks.erp import ErpHook
    from workflows.pmi_program.domain import IntegrationPlan

    p = IntegrationPlan.model_validate(plan)
    saga = run.saga
    controller = [{"email": p.controller_email, "name": f"Controller of {p.target_company}"}]
    with ErpHook() as erp:
        ledgers = saga.call(
            "finance.ledgers",
            side_effect="erp.link_ledgers",
            request={"ledger_ids": list(p.ledger_ids), "parent": p.acquirer_company_id},
            call=lambda key: erp.link_ledgers(
                parent_company_id=p.acquirer_company_id,
                company_id=p.target_company_id,
                ledger_ids=list(p.ledger_ids),
                idempotency_key=key,
            ),
            compensation=lambda r: Compensation(
                "pmi_program.unlink_ledgers",
                {
                    "consolidation_id": r["consolidation_id"],
                    "ledgers": list(p.ledger_ids),
                    "people": controller,
                    "acquirer": p.acquirer_company_id,
                },
            ),
        )
        mandates = {
            account.account_id: request_mandate(run, erp, p, account, controller)["mandate_id"]
            for account in p.bank_accounts
        }
    return {"consolidation_id": ledgers["consolidation_id"], "mandates": mandates, "accounts": len(mandates)}


def request_mandate(
    run: Run, erp: ErpHook, p: IntegrationPlan, account: BankAccount, people: list[dict[str, str]]
) -> dict[str, Any]:
    """The acquirer's treasury as signatory of one bank account: pending until the bank confirms."""
    correlation_key = run.correlation_key("mandate", account.account_id)
    return run.saga.call(
        f"finance.mandate.{account.account_id}",
        side_effect="erp.request_mandate",
        request={"account_id": account.account_id, "signatory": treasury(p.acquirer_domain)},
        call=lambda key: erp.request_mandate(
            company_id=p.target_company_id,
            account_id=account.account_id,
            signatories=[treasury(p.acquirer_domain)],
            correlation_key=correlation_key,
            idempotency_key=key,
        ),
        compensation=lambda r: Compensation(
            "pmi_program.revoke_mandate",
            {"mandate_id": r["mandate_id"], "bank": account.bank, "people": people},
        ),
    )


@compensation("pmi_program.revoke_mandate")
def revoke_mandate(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """The bank hears it through the ERP's revocation; the target's controller is on the list told once."""
    from execution_plane.hooks.erp import ErpHook

    with ErpHook() as hook:
        result = hook.revoke_mandate(args["mandate_id"], reason=reason, idempotency_key=key)
    separated(
        saga, "finance", args["people"], f"the bank mandate at {args['bank']} is revoked", role="finance"
    )
    return result


@compensation("pmi_program.unlink_ledgers")
def unlink_ledgers(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    from execution_plane.hooks.erp import ErpHook

    with ErpHook() as hook:
        result = hook.unlink_ledgers(args["consolidation_id"], reason=reason, idempotency_key=key)
    separated(
        saga,
        "finance",
        args["people"],
        f"ledgers {', '.join(args['ledgers'])} are separated from {args['acquirer']}'s consolidation",
        role="finance",
    )
    return result


def facts(plan: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Finance's checklist facts: the consolidation and every mandate as the ERP holds them."""
    from execution_plane.hooks.erp import ErpHook

    result = row.get("result") or {}
    facts: dict[str, Any] = {"accounts": len(plan["bank_accounts"]), "consolidation": None, "mandates": {}}
    if not result:
        return facts
    with ErpHook() as hook:
        facts["consolidation"] = hook.get_consolidation(result["consolidation_id"])["status"]
        facts["mandates"] = {
            account_id: hook.get_mandate(mandate_id)["status"]
            for account_id, mandate_id in sorted(result.get("mandates", {}).items())
        }
    return facts
