"""HR on Day 1: the target's employees transferred into the acquirer's organisation (HRIS), then each told.

Undo: the transfer is reverted; every transferred employee is on the list of people told, once, at the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execution_plane.saga.compensations import Compensation, compensation
from workflows.pmi_program.common import separated

if TYPE_CHECKING:
    from execution_plane.durable import Run
    from execution_plane.saga.steps import Saga


def integrate(run: Run, plan: dict[str, Any], day1: dict[str, Any]) -> dict[str, Any]:
    from execution_plane.hooks.hris import HrisHook
    from workflows.pmi_program.domain import IntegrationPlan, employee_welcome

    p = IntegrationPlan.model_validate(plan)
    saga = run.saga
    ids = [e.employee_id for e in p.employees]
    people = [{"email": e.email, "name": e.name} for e in p.employees]
    with HrisHook() as hris:
        transfer = saga.call(
            "hr.transfer",
            side_effect="hris.transfer_employees",
            request={"employee_ids": ids, "to": p.acquirer_company_id, "effective_date": day1["day1_date"]},
            call=lambda key: hris.transfer_employees(
                from_company_id=p.target_company_id,
                to_company_id=p.acquirer_company_id,
                employee_ids=ids,
                effective_date=day1["day1_date"],
                reference=saga.workflow_id,
                idempotency_key=key,
            ),
            compensation=lambda r: Compensation(
                "pmi_program.revert_transfer",
                {
                    "transfer_id": r["transfer_id"],
                    "people": people,
                    "target": p.target_company,
                    "acquirer": p.acquirer_company_id,
                },
            ),
        )
    for employee in p.employees:
        message = employee_welcome(p, employee)
        saga.send_message(
            f"hr.welcome.{employee.employee_id}",
            channel="email",
            to=employee.email,
            template="pmi_employee_welcome",
            subject=message.subject,
            body=message.body,
        )
    return {"transfer_id": transfer["transfer_id"], "employees": len(ids), "notified": len(ids)}


@compensation("pmi_program.revert_transfer")
def revert_transfer(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    from execution_plane.hooks.hris import HrisHook

    with HrisHook() as hook:
        result = hook.revert_transfer(args["transfer_id"], reason=reason, idempotency_key=key)
    separated(
        saga,
        "hr",
        args["people"],
        f"your transfer to {args['acquirer']} is reverted: you stay employed by {args['target']}",
        role="employee",
    )
    return result


def facts(plan: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """HR's checklist facts: the transfer as the HRIS holds it, how many were told."""
    from execution_plane.hooks.hris import HrisHook

    result = row.get("result") or {}
    transfer = None
    if result.get("transfer_id"):
        with HrisHook() as hook:
            transfer = hook.get_transfer(result["transfer_id"])["status"]
    return {
        "transfer": transfer,
        "employees": len(plan["employees"]),
        "notified": int(result.get("notified") or 0),
    }
