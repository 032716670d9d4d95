"""What people are told, and when: one message per person per occasion.

Day 1 tells the people it changes something for (employees, contract counterparties, customers). A program
that is stopped tells everyone it affected once, in one message listing what was undone for them, whatever
number of functions touched them (an employee whose transfer and accounts were both undone gets one notice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workflows.pmi_program.domain.plan import FUNCTION_TITLES, Contract, Customer, Employee, IntegrationPlan


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def employee_welcome(plan: IntegrationPlan, employee: Employee) -> Message:
    return Message(
        subject=f"Welcome to {plan.acquirer_company_id}: your move from {plan.target_company}",
        body=(
            f"Dear {employee.name}, as of Day 1 of the integration of {plan.target_company} you are part of "
            f"{plan.acquirer_company_id}'s organisation ({employee.department}). Your role, pay and manager "
            f"do not change today. Your new account at {plan.acquirer_domain} follows from IT."
        ),
    )


def counterparty_notice(plan: IntegrationPlan, contract: Contract) -> Message:
    return Message(
        subject=f"Assignment of {contract.title} ({contract.contract_id}) to {plan.acquirer_company_id}",
        body=(
            f"Dear {contract.counterparty}, following the acquisition of {plan.target_company}, contract "
            f"{contract.contract_id} ({contract.title}) is assigned from {plan.entity_name} to "
            f"{plan.acquirer_company_id}. Its terms are unchanged."
        ),
    )


def customer_notice(plan: IntegrationPlan, customer: Customer) -> Message:
    return Message(
        subject=f"{plan.target_company} is now part of {plan.acquirer_company_id}",
        body=(
            f"Dear {customer.contact_name}, {plan.target_company} is now part of {plan.acquirer_company_id}. "
            f"Your account ({customer.name}) is now served from {plan.acquirer_company_id}'s customer "
            "records; your contacts and terms stay the same."
        ),
    )


def decision_request(function: str, attempt: int, error: str, task: str) -> Message:
    title = FUNCTION_TITLES[function]
    return Message(
        subject=f"Day 1, {title}: a step failed after its retries. Retry or skip?",
        body=(
            f"{title}'s Day-1 work (attempt {attempt}) failed after its automatic retries: {error}. Only "
            f"{title} is paused; the other functions go on. Choose 'Retry' (what was done is not done again) "
            f"or 'Skip' ({title}'s remaining Day-1 work is left to be done outside the program and shows as "
            f"open on the phase checklists) in Airflow: Required Actions, task {task}."
        ),
    )


def rollback_notice(
    *, target_company: str, acquirer: str, undone: Sequence[str], name: str | None
) -> Message:
    lines = "\n".join(f"- {item}" for item in undone) or "- nothing had been changed for you yet"
    return Message(
        subject=f"The integration of {target_company} into {acquirer} is stopped",
        body=(
            f"Dear {name or 'colleague'}, the integration of {target_company} into {acquirer} has been "
            f"stopped. What had been done for you is undone:\n{lines}\n"
            "This is the only notice you will receive about it."
        ),
    )


def program_closed(plan: IntegrationPlan, open_items: Sequence[str], report_uri: str) -> Message:
    rest = "; ".join(open_items) if open_items else "none"
    return Message(
        subject=f"Integration of {plan.target_company} closed",
        body=(
            f"The integration program of {plan.target_company} (deal {plan.deal_id}) passed its Day-90 "
            f"review and is closed. Items handed over to the line organisation: {rest}. Report: {report_uri}"
        ),
    )
