"""partner_approval through dag.test(): the happy path and every bad ending, checked against the business
tables, the saga ledger and the sandbox's effect log."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest

from tests.support.dagtest import Approve, Driver, partner_event

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    from devtools.env import REPO

    bag = DagBag(dag_folder=str(REPO / "dags" / "partner_approval.py"), safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    return bag.dags["partner_approval"]


def run(dag: Any, script: list, *, rounds: int = 3, approval_hours: float = 72, response_hours: float = 168,
        partner_id: str = "P-STRONG-1") -> tuple[Any, str, Driver]:
    request_id = f"pa-{uuid.uuid4().hex[:10]}"
    driver = Driver("partner_approval", [s(request_id) if callable(s) else s for s in script]).start()
    try:
        dr = dag.test(run_conf={"request_id": request_id, "partner_id": partner_id,
                                "max_negotiation_rounds": rounds, "approval_timeout_hours": approval_hours,
                                "partner_response_timeout_hours": response_hours})
    finally:
        driver.stop()
    assert not driver.errors, driver.errors
    return dr, f"partner_approval:{request_id}", driver


def rows(db: Any, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall()


def effect_counts(sandbox: Any) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in sandbox.effects())


def test_happy_path_activates_partner_once(dag: Any, sandbox: Any, business_db: Any) -> None:
    dr, wf, _ = run(dag, [
        Approve("manager_approval", "manager"),
        Approve("round_1.legal_review", "legal"),
        lambda rid: partner_event(rid, 1, "partner.accepted"),
        Approve("executive_approval", "executive"),
    ])
    assert dr.state == "success"
    assert rows(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", wf) == [("completed",)]
    assert rows(business_db, "SELECT status, stage FROM partner_approvals WHERE workflow_id = %s", wf) == [
        ("activated", "activated")]
    assert rows(business_db, "SELECT revision, status FROM term_sheets WHERE workflow_id = %s", wf) == [
        (1, "accepted")]
    decisions = rows(business_db, "SELECT stage, status, decided_by FROM approval_requests"
                                  " WHERE workflow_id = %s ORDER BY created_at", wf)
    assert decisions == [("manager_approval", "approved", "manager"), ("legal_review_r1", "approved", "legal"),
                         ("executive_approval", "approved", "executive")]
    counts = effect_counts(sandbox)
    print(counts)
