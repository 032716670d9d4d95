"""The integration plan, built from the closed deal and what the target's systems hold on the day it is made.

Five functions integrate on Day 1, each on its own system: HR (employees transferred into the acquirer's
organisation, then told), finance (ledgers consolidated, bank mandates requested from the banks), IT
(accounts and group access), legal (the entity put under the acquirer at the registry, assignable contracts
assigned, their counterparties told) and CRM (customer records merged, customers told).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Function = Literal["hr", "finance", "it", "legal", "crm"]
FUNCTIONS: tuple[Function, ...] = ("hr", "finance", "it", "legal", "crm")
FUNCTION_TITLES: dict[str, str] = {
    "hr": "HR",
    "finance": "Finance",
    "it": "IT",
    "legal": "Legal",
    "crm": "CRM",
}
# A deal the CRM shows in one of these statuses has closed: only a closed deal is integrated.
CLOSED_DEAL_STATUSES = ("closed_won", "closed")


class DealNotClosed(ValueError):
    """The CRM deal has not closed: there is nothing to integrate yet."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Employee(_Model):
    employee_id: str
    name: str
    email: str
    department: str
    title: str = ""


def account_name(email: str, domain: str, company_id: str | None = None) -> str:
    """The acquirer's account name (UPN) for a joining employee: their mailbox name at the acquirer's domain;
    where that name is taken already (another company's employee joined under it), the mailbox name with the
    company's id, lower-cased (``dev.ivanova2.t-42@acquirer``). The IT team's convention: one name per person
    for good, readable, and derived, so a retried provisioning asks for the same names."""
    local = email.split("@", 1)[0].lower()
    if company_id is not None:
        local = f"{local}.{re.sub(r'[^a-z0-9-]+', '-', company_id.lower()).strip('-')}"
    return f"{local}@{domain}"


class BankAccount(_Model):
    account_id: str
    bank: str
    bank_email: str


class Contract(_Model):
    contract_id: str
    title: str
    counterparty: str
    counterparty_email: str
    assignable: bool


class Customer(_Model):
    customer_id: str
    name: str
    contact_name: str
    email: str


class IntegrationPlan(_Model):
    deal_id: str
    deal_name: str
    owner_email: str
    target_company: str
    target_company_id: str
    acquirer_company_id: str
    acquirer_domain: str
    employees: tuple[Employee, ...] = Field(min_length=1)
    ledger_ids: tuple[str, ...]
    controller_email: str
    bank_accounts: tuple[BankAccount, ...]
    entity_id: str
    entity_name: str
    counsel_email: str
    contracts: tuple[Contract, ...]
    customers: tuple[Customer, ...]

    @property
    def assignable_contracts(self) -> tuple[Contract, ...]:
        return tuple(c for c in self.contracts if c.assignable)

    @property
    def consent_contracts(self) -> tuple[Contract, ...]:
        """Contracts whose counterparty must consent first: not assigned on Day 1, followed as open items."""
        return tuple(c for c in self.contracts if not c.assignable)

    def access_groups(self) -> list[str]:
        """The acquirer's groups the new colleagues join: everyone's, and one per department."""
        departments = sorted({e.department for e in self.employees})
        return [f"{self.acquirer_company_id}-all", *(f"{self.acquirer_company_id}-{d}" for d in departments)]

    def scope(self, function: str) -> str:
        """What ``function`` does on Day 1, in one line."""
        if function == "hr":
            return f"{len(self.employees)} employees transferred to {self.acquirer_company_id} and told"
        if function == "finance":
            return (
                f"{len(self.ledger_ids)} ledger(s) consolidated, {len(self.bank_accounts)} bank mandate(s) "
                "requested"
            )
        if function == "it":
            groups = len(self.access_groups())
            return f"{len(self.employees)} accounts at {self.acquirer_domain}, access to {groups} groups"
        if function == "legal":
            return (
                f"entity {self.entity_id} filed under {self.acquirer_company_id}, "
                f"{len(self.assignable_contracts)} contract(s) assigned "
                f"({len(self.consent_contracts)} need consent first)"
            )
        if function == "crm":
            return f"{len(self.customers)} customer records merged and the customers told"
        raise ValueError(f"unknown function {function!r}")

    def readiness_request(self) -> str:
        """What the integration lead reads in the Day-1 readiness gate."""
        lines = [f"{FUNCTION_TITLES[f]}: {self.scope(f)}" for f in FUNCTIONS]
        return (
            f"Integration of {self.target_company} (deal {self.deal_id}, {self.deal_name}) into "
            f"{self.acquirer_company_id}. Day 1 plan: " + "; ".join(lines) + ". Approve to start Day 1, or "
            "reject with a reason (nothing has been changed in any system yet)."
        )


def check_closed(deal: Mapping[str, Any]) -> None:
    status = str(deal.get("status") or "")
    if status not in CLOSED_DEAL_STATUSES:
        raise DealNotClosed(
            f"deal {deal.get('deal_id')} is {status or 'without status'} in the CRM, not closed "
            f"({' / '.join(CLOSED_DEAL_STATUSES)}): integrate a deal once it has closed"
        )


def build_plan(
    *,
    deal: Mapping[str, Any],
    target_company: str,
    target_company_id: str,
    acquirer_company_id: str,
    acquirer_domain: str,
    employees: Sequence[Mapping[str, Any]],
    finance: Mapping[str, Any],
    entity: Mapping[str, Any],
    contracts: Sequence[Mapping[str, Any]],
    customers: Sequence[Mapping[str, Any]],
) -> IntegrationPlan:
    """The plan of a closed deal, from what the target's HRIS, ERP, legal and CRM records hold."""
    check_closed(deal)

    def pick(model: type[_Model], rows: Sequence[Mapping[str, Any]]) -> tuple[Any, ...]:
        fields = model.model_fields
        return tuple(model.model_validate({k: v for k, v in row.items() if k in fields}) for row in rows)

    return IntegrationPlan(
        deal_id=str(deal["deal_id"]),
        deal_name=str(deal.get("name") or deal["deal_id"]),
        owner_email=str(deal.get("owner_email") or ""),
        target_company=target_company,
        target_company_id=target_company_id,
        acquirer_company_id=acquirer_company_id,
        acquirer_domain=acquirer_domain,
        employees=pick(Employee, employees),
        ledger_ids=tuple(str(ledger["ledger_id"]) for ledger in finance.get("ledgers") or ()),
        controller_email=str(finance["controller_email"]),
        bank_accounts=pick(BankAccount, finance.get("bank_accounts") or ()),
        entity_id=str(entity["entity_id"]),
        entity_name=str(entity.get("name") or entity["entity_id"]),
        counsel_email=str(entity["counsel_email"]),
        contracts=pick(Contract, contracts),
        customers=pick(Customer, customers),
    )
