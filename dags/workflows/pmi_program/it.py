"""IT on Day 1: an account at the acquirer's domain for every transferred employee (identity directory), then
access to the acquirer's groups (everyone's, and their department's). Account names follow the IT convention
(``domain.account_name``): the mailbox name at the acquirer's domain, or, where the directory says that name
is taken (an employee of an earlier acquisition has it), the mailbox name with the company's id.

Undo, newest first: access revoked, then the accounts disabled; each employee is on the list told once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execution_plane.saga.compensations import Compensation, compensation
from workflows.pmi_program.common import separated

if TYPE_CHECKING:
    from execution_plane.durable import Run
    from execution_plane.hooks.http import ProviderError
    from execution_plane.saga.steps import Saga


def integrate(run: Run, plan: dict[str, Any], day1: dict[str, Any]) -> dict[str, Any]:
    from execution_plane.hooks.directory import DirectoryHook
    from execution_plane.hooks.http import ProviderError
    from workflows.pmi_program.domain import IntegrationPlan, account_name

    p = IntegrationPlan.model_validate(plan)
    saga = run.saga
    people = [{"email": e.email, "name": e.name} for e in p.employees]

    def directory_people(taken: set[str]) -> list[dict[str, str]]:
        """Each employee with the account name the IT convention gives them (``domain.account_name``)."""
        out = []
        for e in p.employees:
            name = account_name(e.email, p.acquirer_domain)
            if name in taken:
                name = account_name(e.email, p.acquirer_domain, p.target_company_id)
            out.append({"person_id": e.employee_id, "name": e.name, "email": e.email, "upn": name})
        return out

    def provision(key: str) -> dict[str, Any]:
        try:
            return hook.provision_accounts(
                domain=p.acquirer_domain,
                source=p.target_company_id,
                people=directory_people(set()),
                idempotency_key=key,
            )
        except ProviderError as exc:
            taken = taken_account_names(exc)
            if not taken:
                raise
        # Some names belong to people who joined before (another acquisition): those get the company's
        # name in theirs, asked under a key of its own (the first request's key keeps its refusal).
        return hook.provision_accounts(
            domain=p.acquirer_domain,
            source=p.target_company_id,
            people=directory_people(taken),
            idempotency_key=f"{key}:company-names",
        )

    groups = p.access_groups()
    with DirectoryHook() as hook:
        provisioned = saga.call(
            "it.accounts",
            side_effect="directory.provision_accounts",
            request={"domain": p.acquirer_domain, "people": [e.employee_id for e in p.employees]},
            call=provision,
            compensation=lambda r: Compensation(
                "pmi_program.deprovision_accounts",
                {"provisioning_id": r["provisioning_id"], "domain": p.acquirer_domain, "people": people},
            ),
        )
        account_ids = [a["account_id"] for a in provisioned["accounts"]]
        granted = saga.call(
            "it.access",
            side_effect="directory.grant_access",
            request={"accounts": len(account_ids), "groups": groups},
            call=lambda key: hook.grant_access(account_ids=account_ids, groups=groups, idempotency_key=key),
            compensation=lambda r: Compensation(
                "pmi_program.revoke_access", {"grant_id": r["grant_id"], "groups": groups, "people": people}
            ),
        )
    return {
        "provisioning_id": provisioned["provisioning_id"],
        "grant_id": granted["grant_id"],
        "accounts": len(account_ids),
        "groups": groups,
    }


def taken_account_names(exc: ProviderError) -> set[str]:
    """The account names a directory refused as taken (409 ``account_exists``), or none."""
    body = exc.refusal(409, "account_exists")
    return {str(name) for name in body.get("upns") or []} if body is not None else set()


@compensation("pmi_program.revoke_access")
def revoke_access(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    from execution_plane.hooks.directory import DirectoryHook

    with DirectoryHook() as hook:
        result = hook.revoke_access(args["grant_id"], reason=reason, idempotency_key=key)
    separated(
        saga, "it", args["people"], f"your access to {', '.join(args['groups'])} is removed", role="employee"
    )
    return result


@compensation("pmi_program.deprovision_accounts")
def deprovision_accounts(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    from execution_plane.hooks.directory import DirectoryHook

    with DirectoryHook() as hook:
        result = hook.deprovision_accounts(args["provisioning_id"], reason=reason, idempotency_key=key)
    separated(saga, "it", args["people"], f"your account at {args['domain']} is disabled", role="employee")
    return result


def facts(plan: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """IT's checklist facts: the accounts and the access as the directory holds them."""
    from execution_plane.hooks.directory import DirectoryHook

    result = row.get("result") or {}
    if not result:
        return {"provisioning": None, "grant": None}
    with DirectoryHook() as hook:
        return {
            "provisioning": hook.get_provisioning(result["provisioning_id"])["status"],
            "grant": hook.get_grant(result["grant_id"])["status"],
        }
