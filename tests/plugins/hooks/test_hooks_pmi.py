"""The post-merger integration hooks against the sandbox: HRIS, ERP, identity directory, legal entity
management and the CRM's customer records. What reaches each system, what comes back, and the undos: a
second undo (or one the other side made moot) is success, any other refusal is an error."""

from __future__ import annotations

from typing import Any

import pytest

from execution_plane.hooks.crm import CrmHook
from execution_plane.hooks.directory import DirectoryHook
from execution_plane.hooks.erp import MANDATE_EVENT_TYPES, ErpHook
from execution_plane.hooks.hris import HrisHook
from execution_plane.hooks.http import ProviderError
from execution_plane.hooks.legal import PARENT_CHANGE_EVENT_TYPES, LegalHook

COMPANY = "TGT-2"


def test_event_types_are_the_systems() -> None:
    assert MANDATE_EVENT_TYPES == ("mandate.activated", "mandate.rejected")
    assert PARENT_CHANGE_EVENT_TYPES == ("parent_change.registered", "parent_change.refused")


def test_hris_transfer_once_and_revert(sandbox: Any) -> None:
    hook = HrisHook()
    people = hook.employees(COMPANY)
    ids = [p["employee_id"] for p in people]
    fields = {
        "from_company_id": COMPANY,
        "to_company_id": "EP-GROUP",
        "employee_ids": ids,
        "effective_date": "2026-12-05",
        "reference": "pmi_program:H-1",
    }
    first = hook.transfer_employees(**fields, idempotency_key="h-1")
    assert first == hook.transfer_employees(**fields, idempotency_key="h-1")
    assert hook.get_transfer(first["transfer_id"])["status"] == "completed"
    with pytest.raises(ProviderError) as refused:
        hook.transfer_employees(**fields, idempotency_key="h-2")
    assert (refused.value.status, refused.value.retryable) == (409, False)
    assert (
        hook.revert_transfer(first["transfer_id"], reason="stopped", idempotency_key="u-1")["status"]
        == "reverted"
    )
    # Undone before, under another key: still success (the undo's goal holds).
    assert (
        hook.revert_transfer(first["transfer_id"], reason="stopped", idempotency_key="u-2")["already"] is True
    )
    assert [e["idempotency_key"] for e in sandbox.effects(system="hris")] == ["h-1", "u-1"]


def test_erp_ledgers_and_mandates(sandbox: Any) -> None:
    hook = ErpHook()
    company = hook.company(COMPANY)
    linked = hook.link_ledgers(
        parent_company_id="EP-GROUP",
        company_id=COMPANY,
        ledger_ids=[ledger["ledger_id"] for ledger in company["ledgers"]],
        idempotency_key="f-1",
    )
    assert hook.get_consolidation(linked["consolidation_id"])["status"] == "linked"
    mandate = hook.request_mandate(
        company_id=COMPANY,
        account_id=company["bank_accounts"][0]["account_id"],
        signatories=["treasury@ep.example"],
        correlation_key="ck",
        idempotency_key="m-1",
    )
    assert hook.get_mandate(mandate["mandate_id"])["status"] == "pending"
    sandbox.post(f"/_sandbox/erp/bank-mandates/{mandate['mandate_id']}/reject")
    # The bank rejected it: nothing to revoke, which is what the undo wants.
    assert hook.revoke_mandate(mandate["mandate_id"], reason="stop", idempotency_key="r-1")["already"] is True
    assert (
        hook.unlink_ledgers(linked["consolidation_id"], reason="stop", idempotency_key="r-2")["status"]
        == "unlinked"
    )
    assert (
        hook.unlink_ledgers(linked["consolidation_id"], reason="stop", idempotency_key="r-3")["already"]
        is True
    )
    assert sandbox.effects(system="erp", action="revoke_mandate") == []


def test_directory_accounts_and_access(sandbox: Any) -> None:
    hook = DirectoryHook()
    people = [
        {"person_id": p["employee_id"], "name": p["name"], "email": p["email"]}
        for p in HrisHook().employees(COMPANY)
    ]
    provisioned = hook.provision_accounts(
        domain="ep.example", source=COMPANY, people=people, idempotency_key="a-1"
    )
    ids = [a["account_id"] for a in provisioned["accounts"]]
    grant = hook.grant_access(account_ids=ids, groups=["EP-GROUP-all"], idempotency_key="g-1")
    assert hook.get_grant(grant["grant_id"])["account_ids"] == ids
    assert hook.revoke_access(grant["grant_id"], reason="stop", idempotency_key="g-2")["status"] == "revoked"
    assert hook.deprovision_accounts(provisioned["provisioning_id"], reason="stop", idempotency_key="a-2")[
        "disabled"
    ] == len(people)
    assert hook.get_provisioning(provisioned["provisioning_id"])["status"] == "deprovisioned"


def test_legal_filing_and_assignment(sandbox: Any) -> None:
    hook = LegalHook()
    assert hook.entity(COMPANY)["counsel_email"] == "legal@tgt-2.example"
    assignable = [c["contract_id"] for c in hook.contracts(COMPANY) if c["assignable"]]
    change = hook.file_parent_change(
        entity_id=COMPANY,
        new_parent_id="EP-GROUP",
        effective_date="2026-12-05",
        correlation_key="ck",
        idempotency_key="l-1",
    )
    sandbox.post(f"/_sandbox/legal/parent-changes/{change['change_id']}/refuse")
    assert hook.get_parent_change(change["change_id"])["status"] == "refused"
    assert (
        hook.revert_parent_change(change["change_id"], reason="stop", idempotency_key="l-2")["already"]
        is True
    )
    assigned = hook.assign_contracts(
        from_entity_id=COMPANY, to_entity_id="EP-GROUP", contract_ids=assignable, idempotency_key="l-3"
    )
    assert hook.get_assignment(assigned["assignment_id"])["contract_ids"] == assignable
    assert hook.revert_assignment(assigned["assignment_id"], reason="stop", idempotency_key="l-4")[
        "status"
    ] == ("reverted")


def test_crm_customer_records(sandbox: Any) -> None:
    hook = CrmHook()
    customers = hook.customers(COMPANY)
    merged = hook.merge_customers(
        from_company_id=COMPANY,
        into_company_id="EP-GROUP",
        customer_ids=[c["customer_id"] for c in customers],
        idempotency_key="c-1",
    )
    assert hook.get_customer_merge(merged["merge_id"])["status"] == "merged"
    assert {c["merged_into"] for c in hook.customers(COMPANY)} == {"EP-GROUP"}
    assert (
        hook.unmerge_customers(merged["merge_id"], reason="stop", idempotency_key="c-2")["status"]
        == "unmerged"
    )
    assert hook.unmerge_customers(merged["merge_id"], reason="stop", idempotency_key="c-3")["already"] is True


def test_an_undo_refused_for_another_reason_is_an_error(sandbox: Any) -> None:
    with pytest.raises(ProviderError) as missing:
        HrisHook().revert_transfer("trf_nope", reason="stop", idempotency_key="x-1")
    assert missing.value.status == 404
