"""ma_offer on a running Airflow, through public interfaces only: started by the REST API, counsel, the
advisors and the regulator act through the sandbox's control routes (their signed webhooks reach the live
/webhooks/events/<source> routes), the board answers through the REST API as `board`, the target answers
through the outside-event webhook, and the signing child (`signature_commitment`) is started for real by the
offer and signed (or left unsigned) through the sandbox's eSign controls. Checked against the sandbox's effect
log and the business tables."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

import pytest

pytestmark = [pytest.mark.live, pytest.mark.timeout(900)]

DAG = "ma_offer"
CHILD_DAG = "signature_commitment"


def start(live: Any, request_id: str, **conf: Any) -> str:
    run_id = f"offer__{request_id}"
    resp = live.airflow.trigger(
        DAG,
        run_id,
        {
            "request_id": request_id,
            "deal_id": f"deal-{request_id}",
            "target_id": f"T-{request_id}",
            "target_company": "Nimbus Analytics",
            "target_contact_email": f"{request_id}@nimbus.example",
            "target_contact_name": "Dana Cfo",
            "base_valuation_usd": 50_000_000,
            **conf,
        },
    )
    assert resp.status_code == 200, resp.text
    return run_id


def resource_of(live: Any, system: str, action: str, key_part: str, timeout: float = 180) -> str:
    """The id the provider gave the resource this offer asked for (from the sandbox's effect log)."""

    def found() -> str | None:
        for effect in live.effects(system=system, action=action):
            if key_part in str(effect["payload"]) or key_part in str(effect["idempotency_key"]):
                return str(effect["resource_id"])
        return None

    return str(live.airflow.wait(f"{system}.{action} for {key_part}", found, timeout, interval=0.5))


def delivered(result: dict[str, Any]) -> None:
    assert [d["status_code"] for d in result["deliveries"]] == [202], result


def reviews_signed_off(live: Any, request_id: str) -> None:
    for firm in ("counsel", "advisor"):
        review_id = resource_of(live, firm, "request_review", f"ma_offer:{request_id}:review:{firm}:1")
        delivered(
            live.sandbox("POST", f"/_sandbox/{firm}/reviews/{review_id}/opinion", json={"summary": "ok"})
        )


def board_approves(live: Any, run_id: str) -> None:
    af = live.airflow
    af.wait_task_state(DAG, run_id, "board_approval", ("awaiting_input",), timeout=300)
    time.sleep(1.2)  # people are not faster than that (Airflow 3.3.2 early-answer failure)
    resp = af.answer(DAG, run_id, "board_approval", "Approve", user="board", comment="e2e")
    assert resp.status_code == 200, resp.text


def regulator_clears(live: Any, request_id: str) -> None:
    filing_id = resource_of(live, "regulator", "submit_filing", f"ma_offer:{request_id}:filing")
    live.airflow.wait_task_state(DAG, f"offer__{request_id}", "regulator_acknowledgement", ("deferred",), 120)
    delivered(live.sandbox("POST", f"/_sandbox/regulator/filings/{filing_id}/acknowledge"))
    delivered(live.sandbox("POST", f"/_sandbox/regulator/filings/{filing_id}/clear"))


def target_accepts(live: Any, request_id: str) -> None:
    live.airflow.wait_task_state(
        DAG, f"offer__{request_id}", "negotiation_1.target_response", ("deferred",), 180
    )
    delivered(
        live.sandbox(
            "POST",
            "/_sandbox/events",
            json={
                "source": "target",
                "event_id": f"{request_id}-accept",
                "type": "offer.accepted",
                "correlation_key": f"ma_offer:{request_id}:response:1",
                "payload": {"note": "agreed"},
            },
        )
    )


def effects_of(live: Any, request_id: str) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in live.effects() if request_id in str(e))


def status(business_db: Any, workflow_id: str) -> str | None:
    with business_db.cursor() as cur:
        cur.execute("SELECT status FROM saga_workflows WHERE workflow_id = %s", (workflow_id,))
        row = cur.fetchone()
    return row[0] if row else None


def test_an_offer_signed_through_a_real_child_run(live: Any, business_db: Any) -> None:
    af = live.airflow
    request_id = f"mal-{uuid.uuid4().hex[:8]}"
    run_id = start(live, request_id)
    reviews_signed_off(live, request_id)
    board_approves(live, run_id)
    regulator_clears(live, request_id)
    target_accepts(live, request_id)

    child_wf = f"{CHILD_DAG}:{request_id}.signing"
    child_run = f"child__ma_offer:{request_id}__signing"
    envelope = resource_of(live, "esign", "create_envelope", child_wf, timeout=240)
    af.wait_task_state(CHILD_DAG, child_run, "wait_for_signature", ("deferred",), 120)
    signed = live.sandbox("POST", f"/_sandbox/esign/envelopes/{envelope}/sign")
    assert [d["status_code"] for d in signed["deliveries"]] == [202], signed
    assert af.wait_run(CHILD_DAG, child_run, timeout=300) == "success"
    assert af.wait_run(DAG, run_id, timeout=300) == "success"

    assert status(business_db, f"{DAG}:{request_id}") == "completed"
    assert status(business_db, child_wf) == "completed"
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT status, stage, agreed_price_usd, child_workflow_id FROM ma_offers WHERE workflow_id = %s",
            (f"{DAG}:{request_id}",),
        )
        assert cur.fetchone() == ("signed", "closed", 50_000_000, child_wf)
        cur.execute(
            "SELECT status, terms->>'price_usd' FROM signature_requests WHERE workflow_id = %s", (child_wf,)
        )
        assert cur.fetchone() == ("signed", "50000000")
    counts = effects_of(live, request_id)
    for effect in (
        ("docstore", "create_room"),
        ("counsel", "request_review"),
        ("advisor", "request_review"),
        ("regulator", "submit_filing"),
        ("esign", "create_envelope"),
    ):
        assert counts[effect] == 1, counts
    assert counts[("esign", "void_envelope")] == 0 and counts[("regulator", "withdraw_filing")] == 0
    assert all(e["idempotency_key"] for e in live.effects(system="regulator") if request_id in str(e))


def test_an_offer_given_up_while_the_signature_is_out_voids_it_through_the_child(
    live: Any, business_db: Any
) -> None:
    af = live.airflow
    request_id = f"mal-{uuid.uuid4().hex[:8]}"
    # The offer stops waiting for the signature after 54 s (its child asks for the envelope within ~20 s of
    # starting, on a loaded machine); the child would wait a week.
    run_id = start(live, request_id, signing_timeout_hours=0.015)
    reviews_signed_off(live, request_id)
    board_approves(live, run_id)
    regulator_clears(live, request_id)
    target_accepts(live, request_id)

    child_wf = f"{CHILD_DAG}:{request_id}.signing"
    child_run = f"child__ma_offer:{request_id}__signing"
    envelope = resource_of(live, "esign", "create_envelope", child_wf, timeout=240)
    assert af.wait_run(DAG, run_id, timeout=300) == "failed"
    assert af.wait_run("saga_compensation", f"compensate__{DAG}:{request_id}", timeout=300) == "success"
    # The offer's undo of the child asked for the child's own compensation and stopped its run.
    assert af.wait_run("saga_compensation", f"compensate__{child_wf}", timeout=300) == "success"
    assert af.run(CHILD_DAG, child_run)["state"] == "failed"

    assert status(business_db, f"{DAG}:{request_id}") == "compensated"
    assert status(business_db, child_wf) == "compensated"
    envelope_state = live.sandbox(
        "GET", f"/esign/v1/envelopes/{envelope}", headers={"Authorization": "Bearer e2e"}
    )
    assert envelope_state["status"] == "voided"
    counts = effects_of(live, request_id)
    assert counts[("esign", "void_envelope")] == 1, counts
    assert counts[("regulator", "withdraw_filing")] == 1, counts
    assert counts[("docstore", "archive_room")] == 1, counts
    withdrawn = [
        e
        for e in live.effects(system="email", action="send")  # other email effects (a cancel) carry no "to"
        if e["payload"].get("to") == f"{request_id}@nimbus.example"
        and e["payload"].get("subject") == "Withdrawal of our offer for Nimbus Analytics"
    ]
    assert len(withdrawn) == 1, withdrawn
    with business_db.cursor() as cur:
        cur.execute("SELECT status, reason FROM ma_offers WHERE workflow_id = %s", (f"{DAG}:{request_id}",))
        assert cur.fetchone() == ("expired", "the signing workflow did not end in time")
