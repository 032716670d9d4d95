"""proposal_generation on a running Airflow, driven only through public interfaces: started by the REST
API (bad params refused there, naming the field), the deal desk's discount approval answered through
hitlDetails as `deal_desk` (another user refused), the run parked on it in the meantime holding no worker.
Checked against the business tables and the sandbox's effect log (filtered to this request).
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any

import pytest

pytestmark = [pytest.mark.live, pytest.mark.timeout(600)]

DAG = "proposal_generation"
GATE = "discount_approval"
PEOPLE_DELAY_S = 1.2  # people are never faster than a second (Airflow 3.3.2 early-answer failure)
ITEMS = [
    {"sku": "EP-PLATFORM", "quantity": 300},
    {"sku": "EP-ANALYTICS", "quantity": 300},
    {"sku": "EP-ONBOARDING", "quantity": 1},
]


def rows(db: Any, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return list(cur.fetchall())


def mine(live: Any, request_id: str, sha: str) -> Counter[tuple[str, str]]:
    """(system, action) of this request's effects: those naming it, and its document."""
    effects = [e for e in live.effects() if request_id in json.dumps(e) or e.get("resource_id") == sha]
    keyed = Counter((e["system"], e["action"], e["idempotency_key"]) for e in effects if e["idempotency_key"])
    assert max(keyed.values(), default=1) == 1, keyed  # each side effect once
    return Counter((e["system"], e["action"]) for e in effects if e["system"] != "crm")


def test_a_discount_approved_by_the_deal_desk_and_one_within_authority(live: Any, business_db: Any) -> None:
    af = live.airflow
    tag = uuid.uuid4().hex[:8]
    gated, direct = f"pg-live-{tag}-gate", f"pg-live-{tag}-rep"  # neither contains the other

    # Bad params are refused by the REST API, naming the field; nothing starts.
    refused = af.trigger(
        DAG,
        f"pg-live-{tag}-bad",
        {"request_id": f"pg-live-{tag}-bad", "deal_id": "D-1", "items": [{"sku": "EP-GOLD", "quantity": 1}]},
    )
    assert refused.status_code == 400 and "EP-GOLD" in refused.text, refused.text

    t0 = time.monotonic()
    for request_id, discount in ((gated, 12), (direct, 5)):
        conf = {
            "request_id": request_id,
            "deal_id": f"D-{request_id}",
            "items": ITEMS,
            "requested_discount_pct": discount,
            "language": "en+ar",
        }
        started = af.trigger(DAG, request_id, conf)
        assert started.status_code == 200, started.text

    # Within the rep's authority: straight through, the gate skipped.
    assert af.wait_run(DAG, direct, timeout=300) == "success"
    direct_s = time.monotonic() - t0
    direct_states = af.task_states(DAG, direct)
    assert direct_states[GATE] == "skipped" and direct_states["notify_owner"] == "success"

    # 12 % is above the rep's 10 %: the run parks on the deal desk (awaiting_input: no worker held).
    af.wait_task_state(DAG, gated, GATE, ("awaiting_input",), timeout=300)
    parked_s = time.monotonic() - t0
    time.sleep(PEOPLE_DELAY_S)
    pending = af.request(
        "GET", f"/dags/{DAG}/dagRuns/{gated}/hitlDetails", params={"response_received": "false"}
    ).json()
    (detail,) = pending["hitl_details"]
    assert "deal_desk" in [user["id"] for user in detail["assigned_users"]]  # (admin may answer too)
    assert "30.96 % off list" in detail["body"]
    assert af.answer(DAG, gated, GATE, "Approve", user="manager").status_code == 403
    answered = time.monotonic()
    resp = af.answer(DAG, gated, GATE, "Approve", user="deal_desk", comment="strategic account")
    assert resp.status_code == 200, resp.text
    assert af.answer(DAG, gated, GATE, "Approve", user="deal_desk").status_code == 409
    assert af.wait_run(DAG, gated, timeout=300) == "success"
    after_answer_s = time.monotonic() - answered
    gated_states = af.task_states(DAG, gated)

    wf = f"{DAG}:{gated}"
    ((status, approval, approved_by, sha),) = rows(
        business_db,
        "SELECT status, approval_status, approved_by, document_sha256 FROM proposals WHERE workflow_id = %s",
        wf,
    )
    assert (status, approval, approved_by) == ("sent", "approved", "deal_desk")
    assert rows(business_db, "SELECT kind, workflow_id FROM documents WHERE sha256 = %s", sha) == [
        ("proposal", wf)
    ]
    assert rows(
        business_db, "SELECT status, decided_by FROM approval_requests WHERE workflow_id = %s", wf
    ) == [("approved", "deal_desk")]
    assert mine(live, gated, sha) == {
        ("llm", "completion"): 2,
        ("docstore", "put_object"): 1,
        ("email", "send"): 2,  # the deal desk asked, the owner told
    }
    ((direct_sha,),) = rows(
        business_db, "SELECT document_sha256 FROM proposals WHERE workflow_id = %s", f"{DAG}:{direct}"
    )
    assert mine(live, direct, direct_sha) == {
        ("llm", "completion"): 2,
        ("docstore", "put_object"): 1,
        ("email", "send"): 1,
    }
    print(
        f"\nproposal_generation live: within authority {direct_s:.1f} s ({len(direct_states)} tasks); "
        f"discount gate open {parked_s:.1f} s after the start; answer -> run done {after_answer_s:.1f} s "
        f"({len(gated_states)} tasks)"
    )
