"""signature_commitment on a running Airflow: started through the CRM webhook, signed (the provider's signed
webhook reaches the live /webhooks/esign route), and declined (compensated, the re-negotiate choice answered
by deal_desk through the REST API). Checked against the sandbox's effect log and the business tables."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

import pytest

from tests.dags.workflows.signature_commitment.test_dag import TERMS, token

pytestmark = [pytest.mark.live, pytest.mark.timeout(600)]

DAG = "signature_commitment"


def start_from_crm(live: Any, request_id: str) -> str:
    conf = {
        "request_id": request_id,
        "deal_id": f"deal-{request_id}",
        "partner_id": "P-STRONG-1",
        "terms": TERMS,
        "approval_token": token(request_id),
        "signer_email": f"{request_id}@partner.example",
        "signer_name": "Dana Signer",
    }
    event_id = f"crm-{request_id}"
    result = live.sandbox(
        "POST", "/_sandbox/crm/events", json={"event_id": event_id, "workflow": DAG, "payload": conf}
    )
    assert [d["status_code"] for d in result["deliveries"]] == [202], result
    live.airflow.wait_started(DAG, f"crm__{event_id}")
    return f"crm__{event_id}"


def envelope_of(business_db: Any, request_id: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with business_db.cursor() as cur:
            cur.execute(
                "SELECT envelope_id FROM signature_requests WHERE workflow_id = %s", (f"{DAG}:{request_id}",)
            )
            row = cur.fetchone()
        if row and row[0]:
            return str(row[0])
        time.sleep(0.5)
    raise TimeoutError("no envelope sent")


def effects_of(live: Any, request_id: str) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in live.effects() if request_id in str(e))


def test_signed_through_the_live_webhook(live: Any, business_db: Any) -> None:
    af = live.airflow
    request_id = f"scl-{uuid.uuid4().hex[:8]}"
    run_id = start_from_crm(live, request_id)
    envelope = envelope_of(business_db, request_id)
    af.wait_task_state(DAG, run_id, "wait_for_signature", ("deferred",))
    signed = live.sandbox("POST", f"/_sandbox/esign/envelopes/{envelope}/sign")
    assert [d["status_code"] for d in signed["deliveries"]] == [202], signed
    assert af.wait_run(DAG, run_id, timeout=240) == "success"
    with business_db.cursor() as cur:
        cur.execute("SELECT status FROM saga_workflows WHERE workflow_id = %s", (f"{DAG}:{request_id}",))
        assert cur.fetchone() == ("completed",)
        cur.execute("SELECT count(*) FROM evidence_packs WHERE workflow_id = %s", (f"{DAG}:{request_id}",))
        assert cur.fetchone() == (1,)
    counts = effects_of(live, request_id)
    assert counts[("esign", "create_envelope")] == 1
    assert all(n == 1 for (system, action), n in counts.items() if system == "esign"), counts


def test_declined_is_compensated_and_renegotiation_offered(live: Any, business_db: Any) -> None:
    af = live.airflow
    request_id = f"scl-{uuid.uuid4().hex[:8]}"
    run_id = start_from_crm(live, request_id)
    envelope = envelope_of(business_db, request_id)
    af.wait_task_state(DAG, run_id, "wait_for_signature", ("deferred",))
    live.sandbox("POST", f"/_sandbox/esign/envelopes/{envelope}/decline")
    af.wait_task_state(DAG, run_id, "renegotiate_choice", ("awaiting_input",), timeout=240)
    assert af.wait_run("saga_compensation", f"compensate__{DAG}:{request_id}", timeout=240) == "success"
    time.sleep(1.2)
    resp = af.answer(DAG, run_id, "renegotiate_choice", "Re-negotiate", user="deal_desk", comment="new terms")
    assert resp.status_code == 200, resp.text
    assert af.wait_run(DAG, run_id, timeout=240) == "failed"
    with business_db.cursor() as cur:
        cur.execute("SELECT status FROM saga_workflows WHERE workflow_id = %s", (f"{DAG}:{request_id}",))
        assert cur.fetchone() == ("compensated",)
        cur.execute("SELECT status FROM deals WHERE deal_id = %s", (f"deal-{request_id}",))
        assert cur.fetchone() == ("renegotiate",)
    counts = effects_of(live, request_id)
    assert counts[("esign", "create_envelope")] == 1
    sent = Counter(e["payload"]["message_id"] for e in live.effects(system="email") if request_id in str(e))
    assert sent and all(n == 1 for n in sent.values()), sent  # several notices, each sent once
