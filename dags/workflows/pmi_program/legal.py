"""Legal on Day 1: the target's entity filed with the companies registry under the acquirer (the registry
decides later, by signed webhook ``parent_change.registered`` / ``refused`` to ``/webhooks/events/legal``,
correlation key ``pmi_program:<request_id>:parent_change``; the Day-60 checklist asks for its status), the
assignable contracts assigned to the acquirer, and each of their counterparties told. Contracts that need the
counterparty's consent first are not assigned: they stay open items until the Day-90 checklist.

Undo, newest first: the assignment reverted, then the parent change withdrawn (or filed back); counsel and
every counterparty told are on the list told once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execution_plane.saga.compensations import Compensation, compensation
from workflows.pmi_program.common import separated

if TYPE_CHECKING:
    from execution_plane.durable import Run
    from execution_plane.saga.steps import Saga


def integrate(run: Run, plan: dict[str, Any], day1: dict[str, Any]) -> dict[str, Any]:
    from execution_plane.hooks.legal import LegalHook
    from workflows.pmi_program.domain import IntegrationPlan, counterparty_notice

    p = IntegrationPlan.model_validate(plan)
    saga = run.saga
    counsel = [{"email": p.counsel_email, "name": f"Counsel of {p.entity_name}"}]
    assignable = p.assignable_contracts
    with LegalHook() as hook:
        change = saga.call(
            "legal.parent_change",
            side_effect="legal.file_parent_change",
            request={"entity_id": p.entity_id, "new_parent_id": p.acquirer_company_id},
            call=lambda key: hook.file_parent_change(
                entity_id=p.entity_id,
                new_parent_id=p.acquirer_company_id,
                effective_date=day1["day1_date"],
                correlation_key=run.correlation_key("parent_change"),
                idempotency_key=key,
            ),
            compensation=lambda r: Compensation(
                "pmi_program.revert_parent_change",
                {
                    "change_id": r["change_id"],
                    "entity": p.entity_name,
                    "acquirer": p.acquirer_company_id,
                    "people": counsel,
                },
            ),
        )
        assignment = None
        if assignable:
            counterparties = [
                {"email": c.counterparty_email, "name": c.counterparty, "contract_id": c.contract_id}
                for c in assignable
            ]
            assignment = saga.call(
                "legal.assignment",
                side_effect="legal.assign_contracts",
                request={"contract_ids": [c.contract_id for c in assignable]},
                call=lambda key: hook.assign_contracts(
                    from_entity_id=p.entity_id,
                    to_entity_id=p.acquirer_company_id,
                    contract_ids=[c.contract_id for c in assignable],
                    idempotency_key=key,
                ),
                compensation=lambda r: Compensation(
                    "pmi_program.revert_assignment",
                    {"assignment_id": r["assignment_id"], "entity": p.entity_name, "people": counterparties},
                ),
            )
    for contract in assignable:
        message = counterparty_notice(p, contract)
        saga.send_message(
            f"legal.notice.{contract.contract_id}",
            channel="email",
            to=contract.counterparty_email,
            template="pmi_contract_assignment",
            subject=message.subject,
            body=message.body,
        )
    return {
        "change_id": change["change_id"],
        "assignment_id": assignment["assignment_id"] if assignment else None,
        "assigned": len(assignable),
        "consent_contracts": [c.contract_id for c in p.consent_contracts],
    }


@compensation("pmi_program.revert_assignment")
def revert_assignment(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    from execution_plane.hooks.legal import LegalHook

    with LegalHook() as hook:
        result = hook.revert_assignment(args["assignment_id"], reason=reason, idempotency_key=key)
    separated(
        saga,
        "legal",
        args["people"],
        lambda person: (
            f"the assignment of contract {person['contract_id']} is reverted: it stays with {args['entity']}"
        ),
        role="counterparty",
    )
    return result


@compensation("pmi_program.revert_parent_change")
def revert_parent_change(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    from execution_plane.hooks.legal import LegalHook

    with LegalHook() as hook:
        result = hook.revert_parent_change(args["change_id"], reason=reason, idempotency_key=key)
    separated(
        saga,
        "legal",
        args["people"],
        f"{args['entity']}'s filing under {args['acquirer']} is withdrawn at the registry",
        role="legal",
    )
    return result


def facts(plan: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Legal's checklist facts: the filing and the assignment as the registry holds them, and the contracts
    still waiting for a counterparty's consent."""
    from execution_plane.hooks.legal import LegalHook

    result = row.get("result") or {}
    consent = [c["contract_id"] for c in plan["contracts"] if not c["assignable"]]
    facts: dict[str, Any] = {
        "parent_change": None,
        "assignment": None,
        "assignable": len(plan["contracts"]) - len(consent),
        "consent_contracts": consent,
    }
    if not result:
        return facts
    with LegalHook() as hook:
        facts["parent_change"] = hook.get_parent_change(result["change_id"])["status"]
        if result.get("assignment_id"):
            facts["assignment"] = hook.get_assignment(result["assignment_id"])["status"]
    return facts
