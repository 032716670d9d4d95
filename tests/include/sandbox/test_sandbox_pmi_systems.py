"""The post-merger integration systems of the sandbox: HRIS, ERP, identity directory, legal entity management
and the CRM's customer records. Each change is executed once per Idempotency-Key and logged as an effect,
each undo refuses a second time with its 409, faults apply, and the ERP (for the banks) and the registry
send signed webhooks with stable event ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.include.sandbox.sandbox_testkit import SECRETS, Receiver

Count = Callable[[str, str], int]
COMPANY = "TGT-2"  # 2 ledgers, 2 bank accounts, 2 assignable contracts and 1 needing consent


def employees(client: TestClient) -> list[dict[str, Any]]:
    body = client.get(f"/hris/v1/companies/{COMPANY}/employees").json()
    found: list[dict[str, Any]] = body["employees"]
    return found


def transfer_body(client: TestClient) -> dict[str, Any]:
    return {
        "from_company_id": COMPANY,
        "to_company_id": "EP-GROUP",
        "employee_ids": [e["employee_id"] for e in employees(client)],
        "effective_date": "2026-12-05",
        "reference": "pmi_program:P-7",
    }


def test_employees_are_derived_from_the_company_id(client: TestClient) -> None:
    first, again = employees(client), employees(client)
    assert first == again and 3 <= len(first) <= 5
    assert all(e["email"].endswith("@tgt-2.example") and e["employer_id"] == COMPANY for e in first)
    assert employees(client) != client.get("/hris/v1/companies/TGT-3/employees").json()["employees"]


def test_transfer_once_per_key_then_revert_once(client: TestClient, effect_count: Count) -> None:
    headers = {"Idempotency-Key": "pmi:hr.transfer"}
    first = client.post("/hris/v1/transfers", json=transfer_body(client), headers=headers)
    second = client.post("/hris/v1/transfers", json=transfer_body(client), headers=headers)
    assert first.status_code == 201 and first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert effect_count("hris", "transfer_employees") == 1
    assert {e["employer_id"] for e in employees(client)} == {"EP-GROUP"}
    # An employee in an active transfer cannot be transferred again (another key, another program).
    again = client.post("/hris/v1/transfers", json=transfer_body(client))
    assert (again.status_code, again.json()["error"]) == (409, "employee_already_transferred")

    transfer_id = first.json()["transfer_id"]
    reverted = client.post(f"/hris/v1/transfers/{transfer_id}/revert", json={"reason": "program stopped"})
    assert reverted.json()["status"] == "reverted"
    twice = client.post(f"/hris/v1/transfers/{transfer_id}/revert", json={"reason": "program stopped"})
    assert (twice.status_code, twice.json()["error"]) == (409, "already_reverted")
    assert effect_count("hris", "revert_transfer") == 1
    assert {e["employer_id"] for e in employees(client)} == {COMPANY}


def test_unknown_employees_are_refused(client: TestClient, effect_count: Count) -> None:
    body = {**transfer_body(client), "employee_ids": ["NOPE-1"]}
    response = client.post("/hris/v1/transfers", json=body)
    assert (response.status_code, response.json()["error"]) == (422, "unknown_employees")
    assert effect_count("hris", "transfer_employees") == 0


def test_ledgers_link_once_and_unlink(client: TestClient, effect_count: Count) -> None:
    company = client.get(f"/erp/v1/companies/{COMPANY}").json()
    assert company["ledgers"] and company["bank_accounts"]
    body = {
        "parent_company_id": "EP-GROUP",
        "company_id": COMPANY,
        "ledger_ids": [company["ledgers"][0]["ledger_id"]],
    }
    linked = client.post("/erp/v1/consolidations", json=body).json()
    assert client.post("/erp/v1/consolidations", json=body).json()["error"] == "ledger_already_consolidated"
    unlink = f"/erp/v1/consolidations/{linked['consolidation_id']}/unlink"
    assert client.post(unlink, json={"reason": "stop"}).json()["status"] == "unlinked"
    assert client.post(unlink, json={"reason": "stop"}).json()["error"] == "already_unlinked"
    assert (effect_count("erp", "link_ledgers"), effect_count("erp", "unlink_ledgers")) == (1, 1)


@pytest.mark.parametrize(
    ("action", "status", "event_type"),
    [("activate", "active", "mandate.activated"), ("reject", "rejected", "mandate.rejected")],
)
def test_the_bank_answers_a_mandate_by_signed_webhook(
    client: TestClient, receiver: Receiver, action: str, status: str, event_type: str
) -> None:
    account = client.get(f"/erp/v1/companies/{COMPANY}").json()["bank_accounts"][0]
    mandate = client.post(
        "/erp/v1/bank-mandates",
        json={
            "company_id": COMPANY,
            "account_id": account["account_id"],
            "signatories": ["treasury@ep.example"],
            "correlation_key": "pmi_program:P-7:mandate:1",
        },
    ).json()
    assert (mandate["status"], mandate["bank"]) == ("pending", account["bank"])
    acted = client.post(f"/_sandbox/erp/bank-mandates/{mandate['mandate_id']}/{action}").json()
    assert acted["mandate"]["status"] == status and acted["deliveries"][0]["status_code"] == 200
    again = client.post(f"/_sandbox/erp/bank-mandates/{mandate['mandate_id']}/{action}").json()
    first, second = receiver.received("/webhooks/events/erp")
    for delivery in (first, second):
        delivery.verify(SECRETS["events"])
    assert first.json()["event_id"] == second.json()["event_id"] == again["event"]["event_id"]
    assert first.json()["type"] == event_type
    assert first.json()["correlation_key"] == "pmi_program:P-7:mandate:1"
    assert client.get(f"/erp/v1/bank-mandates/{mandate['mandate_id']}").json()["status"] == status
    revoked = client.post(f"/erp/v1/bank-mandates/{mandate['mandate_id']}/revoke", json={"reason": "stop"})
    if status == "active":
        assert revoked.json()["status"] == "revoked"
    else:
        assert (revoked.status_code, revoked.json()["error"]) == (409, "mandate_not_revocable")
    other = "reject" if action == "activate" else "activate"
    refused = client.post(f"/_sandbox/erp/bank-mandates/{mandate['mandate_id']}/{other}")
    assert (refused.status_code, refused.json()["error"]) == (409, "invalid_transition")


def test_accounts_and_access_then_undone(client: TestClient, effect_count: Count) -> None:
    people = [
        {"person_id": e["employee_id"], "name": e["name"], "email": e["email"]} for e in employees(client)
    ]
    body = {"domain": "ep.example", "source": COMPANY, "people": people}
    provisioned = client.post("/directory/v1/provisionings", json=body, headers={"Idempotency-Key": "it"})
    assert provisioned.status_code == 201
    accounts = provisioned.json()["accounts"]
    assert [a["upn"].split("@")[1] for a in accounts] == ["ep.example"] * len(people)
    assert client.post("/directory/v1/provisionings", json=body).json()["error"] == "account_exists"
    grant = client.post(
        "/directory/v1/grants",
        json={"account_ids": [a["account_id"] for a in accounts], "groups": ["EP-all"]},
    ).json()
    revoke = f"/directory/v1/grants/{grant['grant_id']}/revoke"
    assert client.post(revoke, json={"reason": "stop"}).json()["status"] == "revoked"
    assert client.post(revoke, json={"reason": "stop"}).json()["error"] == "already_revoked"
    deprovision = f"/directory/v1/provisionings/{provisioned.json()['provisioning_id']}/deprovision"
    assert client.post(deprovision, json={"reason": "stop"}).json()["disabled"] == len(people)
    assert client.post(deprovision, json={"reason": "stop"}).json()["error"] == "already_deprovisioned"
    # Disabled accounts get no access; the same people can be provisioned again.
    refused = client.post(
        "/directory/v1/grants", json={"account_ids": [accounts[0]["account_id"]], "groups": ["x"]}
    )
    assert refused.json()["error"] == "account_not_active"
    assert client.post("/directory/v1/provisionings", json=body).status_code == 201
    assert effect_count("directory", "provision_accounts") == 2
    assert effect_count("directory", "deprovision_accounts") == 1


@pytest.mark.parametrize(("action", "status"), [("register", "registered"), ("refuse", "refused")])
def test_the_registry_decides_a_parent_change_by_signed_webhook(
    client: TestClient, receiver: Receiver, action: str, status: str
) -> None:
    body = {
        "entity_id": COMPANY,
        "new_parent_id": "EP-GROUP",
        "effective_date": "2026-12-05",
        "correlation_key": "ck",
    }
    change = client.post("/legal/v1/parent-changes", json=body).json()
    assert change["status"] == "filed"
    decided = client.post(f"/_sandbox/legal/parent-changes/{change['change_id']}/{action}").json()
    assert decided["parent_change"]["status"] == status
    (delivery,) = receiver.received("/webhooks/events/legal")
    delivery.verify(SECRETS["events"])
    assert (delivery.json()["type"], delivery.json()["correlation_key"]) == (f"parent_change.{status}", "ck")
    parent = client.get(f"/legal/v1/entities/{COMPANY}").json()["parent_id"]
    assert parent == ("EP-GROUP" if status == "registered" else None)
    revert = client.post(f"/legal/v1/parent-changes/{change['change_id']}/revert", json={"reason": "stop"})
    if status == "registered":
        assert revert.json() == {"change_id": change["change_id"], "status": "reverted", "was": "registered"}
        assert client.get(f"/legal/v1/entities/{COMPANY}").json()["parent_id"] is None
    else:
        assert revert.json()["error"] == "parent_change_not_revertible"


def test_contracts_assign_only_when_assignable(client: TestClient, effect_count: Count) -> None:
    contracts = client.get(f"/legal/v1/entities/{COMPANY}/contracts").json()["contracts"]
    assignable = [c["contract_id"] for c in contracts if c["assignable"]]
    consent = [c["contract_id"] for c in contracts if not c["assignable"]]
    body = {"from_entity_id": COMPANY, "to_entity_id": "EP-GROUP", "contract_ids": assignable}
    assigned = client.post("/legal/v1/assignments", json=body).json()
    held = {
        c["contract_id"]: c["held_by"]
        for c in client.get(f"/legal/v1/entities/{COMPANY}/contracts").json()["contracts"]
    }
    assert all(held[c] == "EP-GROUP" for c in assignable)
    assert client.post("/legal/v1/assignments", json=body).json()["error"] == "contract_already_assigned"
    assert assignable and consent
    refused = client.post("/legal/v1/assignments", json={**body, "contract_ids": consent})
    assert refused.json()["error"] == "contract_not_assignable"
    revert = f"/legal/v1/assignments/{assigned['assignment_id']}/revert"
    assert client.post(revert, json={"reason": "stop"}).json()["status"] == "reverted"
    assert client.post(revert, json={"reason": "stop"}).json()["error"] == "already_reverted"
    assert (effect_count("legal", "assign_contracts"), effect_count("legal", "revert_assignment")) == (1, 1)


def test_customer_records_merge_and_unmerge_in_the_crm(client: TestClient, effect_count: Count) -> None:
    customers = client.get("/crm/v1/customers", params={"company_id": COMPANY}).json()["customers"]
    body = {
        "from_company_id": COMPANY,
        "into_company_id": "EP-GROUP",
        "customer_ids": [c["customer_id"] for c in customers],
    }
    merged = client.post("/crm/v1/customer-merges", json=body).json()
    listed = client.get("/crm/v1/customers", params={"company_id": COMPANY}).json()["customers"]
    assert {c["merged_into"] for c in listed} == {"EP-GROUP"}
    assert client.post("/crm/v1/customer-merges", json=body).json()["error"] == "customer_already_merged"
    unmerge = f"/crm/v1/customer-merges/{merged['merge_id']}/unmerge"
    assert client.post(unmerge, json={"reason": "stop"}).json()["separated"] == len(customers)
    assert client.post(unmerge, json={"reason": "stop"}).json()["error"] == "already_unmerged"
    assert (effect_count("crm", "merge_customers"), effect_count("crm", "unmerge_customers")) == (1, 1)


@pytest.mark.parametrize(
    ("system", "action", "path"),
    [
        ("hris", "transfer_employees", "/hris/v1/transfers"),
        ("erp", "link_ledgers", "/erp/v1/consolidations"),
        ("directory", "provision_accounts", "/directory/v1/provisionings"),
        ("legal", "file_parent_change", "/legal/v1/parent-changes"),
        ("crm", "merge_customers", "/crm/v1/customer-merges"),
    ],
)
def test_faults_and_credentials_apply(
    client: TestClient, anon: TestClient, effect_count: Count, system: str, action: str, path: str
) -> None:
    assert anon.post(path, json={}).status_code == 401
    client.post("/_sandbox/faults", json={"system": system, "action": action, "mode": "error", "status": 503})
    assert client.post(path, json={}).status_code == 503
    assert effect_count(system, action) == 0


def test_the_caller_may_choose_account_names_at_the_domain(client: TestClient) -> None:
    person = {"person_id": "E1", "name": "Dev Ivanova", "email": "dev.ivanova2@tgt.example"}
    taken = client.post(
        "/directory/v1/provisionings", json={"domain": "ep.example", "source": "A", "people": [person]}
    )
    assert taken.json()["accounts"][0]["upn"] == "dev.ivanova2@ep.example"
    again = client.post(
        "/directory/v1/provisionings", json={"domain": "ep.example", "source": "B", "people": [person]}
    )
    assert (again.status_code, again.json()["error"], again.json()["upns"]) == (
        409,
        "account_exists",
        ["dev.ivanova2@ep.example"],
    )
    named = {**person, "upn": "dev.ivanova2.b@ep.example"}
    body = {"domain": "ep.example", "source": "B", "people": [named]}
    assert client.post("/directory/v1/provisionings", json=body).json()["accounts"][0]["upn"] == named["upn"]
    elsewhere = {**person, "person_id": "E2", "upn": "dev@other.example"}
    refused = client.post("/directory/v1/provisionings", json={**body, "people": [elsewhere]})
    assert (refused.status_code, refused.json()["error"]) == (422, "upn_outside_domain")
    twice = [{**person, "upn": "x@ep.example"}, {**person, "person_id": "E3", "upn": "x@ep.example"}]
    refused = client.post("/directory/v1/provisionings", json={**body, "people": twice})
    assert (refused.status_code, refused.json()["error"]) == (422, "duplicate_upn")
