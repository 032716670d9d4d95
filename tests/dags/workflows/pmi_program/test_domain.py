"""pmi_program's business rules without Airflow: the plan from the closed deal, the phase dates and their
extensions, each phase's checklist, the messages, the closing report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from workflows.pmi_program.domain import (
    DEFAULT_EXTENSION_DAYS,
    FUNCTIONS,
    MAX_EXTENSION_DAYS,
    DealNotClosed,
    IntegrationPlan,
    InvalidPhaseDays,
    build_plan,
    closing_report_pdf,
    decision_request,
    due_at,
    extension,
    open_items,
    phase_checklist,
    phase_days,
    rollback_notice,
)

EMPLOYEES = [
    {"employee_id": "T-E001", "name": "Ana Almeida", "email": "ana@t.example", "department": "sales", "x": 1},
    {"employee_id": "T-E002", "name": "Ben Brandt", "email": "ben@t.example", "department": "finance"},
]
FINANCE = {
    "ledgers": [{"ledger_id": "T-L0"}, {"ledger_id": "T-L1"}],
    "bank_accounts": [{"account_id": "T-BA1", "bank": "Northbank", "bank_email": "m@northbank.example"}],
    "controller_email": "controller@t.example",
}
CONTRACTS = [
    {
        "contract_id": "T-C01",
        "title": "Lease",
        "counterparty": "Cedar",
        "counterparty_email": "c1@x",
        "assignable": True,
    },
    {
        "contract_id": "T-C02",
        "title": "MSA",
        "counterparty": "Orbital",
        "counterparty_email": "c2@x",
        "assignable": False,
    },
]
CUSTOMERS = [
    {"customer_id": "T-K001", "name": "Vertex", "contact_name": "Dev Dubois", "email": "dev@v.example"}
]


def plan(**deal: Any) -> IntegrationPlan:
    return build_plan(
        deal={
            "deal_id": "D-1",
            "name": "Lumen",
            "status": "closed_won",
            "owner_email": "o@crm.example",
            **deal,
        },
        target_company="Lumen Logistics",
        target_company_id="T",
        acquirer_company_id="EP-GROUP",
        acquirer_domain="ep.example",
        employees=EMPLOYEES,
        finance=FINANCE,
        entity={"entity_id": "T", "name": "Lumen SAS", "counsel_email": "legal@t.example"},
        contracts=CONTRACTS,
        customers=CUSTOMERS,
    )


# ----------------------------------------------------------------------------- the plan
def test_plan_from_a_closed_deal() -> None:
    p = plan()
    assert [e.employee_id for e in p.employees] == ["T-E001", "T-E002"]
    assert p.ledger_ids == ("T-L0", "T-L1")
    assert [c.contract_id for c in p.assignable_contracts] == ["T-C01"]
    assert [c.contract_id for c in p.consent_contracts] == ["T-C02"]
    assert p.access_groups() == ["EP-GROUP-all", "EP-GROUP-finance", "EP-GROUP-sales"]
    assert p.scope("legal") == "entity T filed under EP-GROUP, 1 contract(s) assigned (1 need consent first)"
    request = p.readiness_request()
    assert all(f"{title}:" in request for title in ("HR", "Finance", "IT", "Legal", "CRM"))
    assert IntegrationPlan.model_validate_json(p.model_dump_json()) == p


@pytest.mark.parametrize("status", ["open", "closing", "", None])
def test_a_deal_that_has_not_closed_has_no_plan(status: Any) -> None:
    with pytest.raises(DealNotClosed, match="not closed"):
        plan(status=status)


def test_a_plan_needs_employees() -> None:
    with pytest.raises(ValueError, match="employees"):
        build_plan(
            deal={"deal_id": "D-1", "status": "closed"},
            target_company="x",
            target_company_id="T",
            acquirer_company_id="EP",
            acquirer_domain="ep.example",
            employees=[],
            finance=FINANCE,
            entity={"entity_id": "T", "counsel_email": "l@t"},
            contracts=[],
            customers=[],
        )


# ----------------------------------------------------------------------------- phase dates
def test_phase_days_default_and_must_increase() -> None:
    assert phase_days({}) == {"day30": 30, "day60": 60, "day90": 90}
    assert phase_days({"day30_days": 20, "day60_days": 45, "day90_days": 100}) == {
        "day30": 20,
        "day60": 45,
        "day90": 100,
    }
    for bad in ({"day60_days": 30}, {"day90_days": 59}, {"day30_days": 0}):
        with pytest.raises(InvalidPhaseDays):
            phase_days(bad)


def test_due_dates_count_from_day1_plus_every_extension() -> None:
    day1 = datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert due_at(day1, phase_day=30, extension_days=[], day_seconds=86_400) == day1 + timedelta(days=30)
    assert due_at(day1, phase_day=60, extension_days=[5, 10], day_seconds=86_400) == day1 + timedelta(days=75)
    # Scaled program days: Day 90 two seconds after Day 1 when a day lasts 1/45 s.
    assert due_at(day1, phase_day=90, extension_days=[], day_seconds=1 / 45) == day1 + timedelta(seconds=2)


@pytest.mark.parametrize(
    ("given", "days"),
    [
        (5, 5),
        ("7", 7),
        (None, DEFAULT_EXTENSION_DAYS),
        ("", DEFAULT_EXTENSION_DAYS),
        ("x", DEFAULT_EXTENSION_DAYS),
        (0, 1),
        (-3, 1),
        (500, MAX_EXTENSION_DAYS),
    ],
)
def test_extension_days_are_bounded(given: Any, days: int) -> None:
    assert extension(given) == days


# ----------------------------------------------------------------------------- checklists
def facts(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    base: dict[str, dict[str, Any]] = {
        "hr": {"status": "done", "transfer": "completed", "employees": 2, "notified": 2},
        "finance": {
            "status": "done",
            "consolidation": "linked",
            "accounts": 2,
            "mandates": {"A": "active", "B": "pending"},
        },
        "it": {"status": "done", "provisioning": "active", "grant": "granted"},
        "legal": {
            "status": "done",
            "parent_change": "filed",
            "assignment": "assigned",
            "assignable": 1,
            "consent_contracts": ["T-C02"],
        },
        "crm": {"status": "done", "merge": "merged", "customers": 1, "notified": 1},
    }
    for function, changes in overrides.items():
        base[function] = {**base[function], **changes}
    return base


def test_day30_checks_day1_work_only() -> None:
    checklist = phase_checklist("day30", 1, facts())
    assert checklist.complete and checklist.done == len(checklist.items) == 10
    assert {item.function for item in checklist.items} == set(FUNCTIONS)


def test_day60_also_needs_the_banks_and_the_registry() -> None:
    checklist = phase_checklist("day60", 1, facts())
    assert [item.code for item in checklist.open_items] == [
        "finance.mandates_active",
        "legal.entity_registered",
    ]
    assert "1/2 active: B pending" in checklist.summary()
    confirmed = facts(
        finance={"mandates": {"A": "active", "B": "active"}}, legal={"parent_change": "registered"}
    )
    assert phase_checklist("day60", 1, confirmed).complete


def test_day90_also_needs_no_contract_waiting_for_consent() -> None:
    confirmed = facts(
        finance={"mandates": {"A": "active", "B": "active"}}, legal={"parent_change": "registered"}
    )
    checklist = phase_checklist("day90", 1, confirmed)
    assert [(i.code, i.detail) for i in checklist.open_items] == [("legal.consents", "T-C02 need consent")]
    assert phase_checklist(
        "day90", 1, facts(**{**confirmed, "legal": {**confirmed["legal"], "consent_contracts": []}})
    ).complete


def test_a_skipped_function_is_open_everywhere() -> None:
    checklist = phase_checklist(
        "day30", 2, facts(it={"status": "skipped", "provisioning": None, "grant": None})
    )
    assert {item.code for item in checklist.open_items} == {"it.accounts", "it.access"}
    assert all("skipped on Day 1" in item.detail for item in checklist.open_items)


def test_a_rejected_mandate_is_not_requested() -> None:
    checklist = phase_checklist("day30", 1, facts(finance={"mandates": {"A": "active", "B": "rejected"}}))
    assert [item.code for item in checklist.open_items] == ["finance.mandates_requested"]


def test_unknown_phase() -> None:
    with pytest.raises(ValueError, match="unknown phase"):
        phase_checklist("day120", 1, facts())


# ----------------------------------------------------------------------------- messages and report
def test_rollback_notice_lists_everything_undone_once() -> None:
    message = rollback_notice(
        target_company="Lumen",
        acquirer="EP-GROUP",
        undone=["transfer reverted", "account disabled"],
        name="Ana",
    )
    assert message.subject == "The integration of Lumen into EP-GROUP is stopped"
    assert message.body.count("\n- ") == 2 and message.body.startswith("Dear Ana,")
    assert "only notice" in message.body


def test_decision_request_names_the_task_and_the_error() -> None:
    message = decision_request("it", 2, "directory answered HTTP 503", "it.decision_2")
    assert message.subject.startswith("Day 1, IT:")
    assert "attempt 2" in message.body and "HTTP 503" in message.body and "it.decision_2" in message.body


def test_report_is_deterministic_and_lists_what_is_handed_over() -> None:
    functions = {f: {"status": "done", "attempts": 1} for f in FUNCTIONS}
    functions["it"] = {"status": "skipped", "attempts": 1, "last_error": "directory down"}
    checklist = {"items": [{"function": "legal", "title": "consents", "detail": "T-C02", "done": False}]}
    leftovers = open_items(functions, checklist)
    assert leftovers == ["legal: consents (T-C02)", "it: skipped on Day 1 after: directory down"]
    reviews = [
        {"phase": "day30", "round": 1, "decision": "pass", "decided_by": "lead", "done": 10, "items": 10}
    ]
    kwargs: dict[str, Any] = {
        "functions": functions,
        "reviews": reviews,
        "leftovers": leftovers,
        "day1_on": date(2026, 1, 5),
        "closed_on": date(2026, 4, 5),
    }
    first, again = closing_report_pdf(plan(), **kwargs), closing_report_pdf(plan(), **kwargs)
    assert first == again and first.startswith(b"%PDF")
    assert closing_report_pdf(plan(), **{**kwargs, "leftovers": []}) != first


def test_an_account_name_is_the_mailbox_name_or_with_the_company_where_taken() -> None:
    from workflows.pmi_program.domain import account_name

    assert account_name("Dev.Ivanova2@tgt-3.example", "ep.example") == "dev.ivanova2@ep.example"
    assert (
        account_name("dev.ivanova2@tgt-3.example", "ep.example", "TGT_3.x")
        == "dev.ivanova2.tgt-3-x@ep.example"
    )
