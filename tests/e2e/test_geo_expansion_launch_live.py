"""geo_expansion_launch on a running Airflow, driven only through public interfaces: started through the REST
API; the regulator decides on its portal and the region comes up at the provider (sandbox controls, signed
webhooks to the live /webhooks/events routes); each local partner's contract is a real
``signature_commitment`` child run whose envelope its signer signs or declines (the eSign webhook to
/webhooks/esign); the canary's figures are chosen at the product-metrics stand-in; the launch lead answers
through the REST API. Checked against the REST API, the business tables and the sandbox's effect log (shared
by the whole live session: filtered to this launch's resources)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

import pytest

pytestmark = [pytest.mark.live, pytest.mark.timeout(900)]

DAG = "geo_expansion_launch"
CHILD = "signature_commitment"
PEOPLE_DELAY_S = 1.2  # people are never faster than a second (Airflow 3.3.2 early-answer failure)
READY = {
    "localization_complete": True,
    "pricing_in_local_currency": True,
    "tax_registration": True,
    "support_coverage_hours": 12,
    "payment_methods": ["pix"],
    "privacy_review": "approved",
    "data_residency_required": True,
}


def partners(request_id: str) -> list[dict[str, Any]]:
    return [
        {
            "partner_id": f"P-PAY-{request_id}",
            "deal_id": f"D-PAY-{request_id}",
            "name": "PagaRapido",
            "signer_email": f"ana-{request_id}@pagarapido.example",
            "signer_name": "Ana Souza",
            "terms": {"revenue_share_pct": 12, "term_months": 24},
        },
        {
            "partner_id": f"P-LOG-{request_id}",
            "deal_id": f"D-LOG-{request_id}",
            "name": "EntregaJa",
            "signer_email": f"rui-{request_id}@entregaja.example",
            "signer_name": "Rui Lima",
            "terms": {"fee_per_delivery_brl": 7.5, "term_months": 12},
        },
    ]


class Launch:
    """One launch on the live stack, and the outside world's side of it."""

    def __init__(self, live: Any, business_db: Any, **overrides: Any) -> None:
        self.live, self.db, self.af = live, business_db, live.airflow
        self.request_id = f"geo-{uuid.uuid4().hex[:8]}"
        self.workflow_id = f"{DAG}:{self.request_id}"
        self.run_id = f"e2e__{self.request_id}"
        self.partners = partners(self.request_id)
        self.conf = {
            "request_id": self.request_id,
            "market": "BR",
            "market_name": "Brazil",
            "currency": "BRL",
            "region": "sa-east-1",
            "partners": self.partners,
            "readiness": READY,
            "rollout_steps_pct": [5],
            "metrics_window_hours": 0.0005,  # about 2 s
            "renegotiation_timeout_hours": 0.0005,
            **overrides,
        }
        self.t0 = time.monotonic()

    def start(self) -> None:
        resp = self.af.trigger(DAG, self.run_id, self.conf)
        assert resp.status_code == 200, resp.text

    def child(self, partner: dict[str, Any]) -> tuple[str, str]:
        """(workflow id, run id) of a partner's contract child."""
        stage = f"partner-{partner['partner_id']}"
        return f"{CHILD}:{self.request_id}.{stage}", f"child__{self.workflow_id}__{stage}"

    def effects(self, **filters: str) -> list[dict[str, Any]]:
        return self.live.effects(**filters)

    def regulator_decides(self, action: str, body: dict[str, Any] | None = None) -> None:
        filing = self.af.wait(
            "the market-entry filing",
            lambda: self.live.sandbox(
                "GET",
                "/regulator/v1/filings",
                params={"correlation_key": f"{self.workflow_id}:regulator"},
                headers={"Authorization": "Bearer e2e"},
            )["filings"],
            timeout=180,
        )[0]["filing_id"]
        for step, payload in (("acknowledge", None), (action, body)):
            done = self.live.sandbox("POST", f"/_sandbox/regulator/filings/{filing}/{step}", json=payload)
            assert [d["status_code"] for d in done["deliveries"]] == [202], done

    def envelope(self, partner: dict[str, Any]) -> str:
        child, _ = self.child(partner)
        found = self.af.wait(
            f"the envelope of {child}",
            lambda: [
                e["resource_id"]
                for e in self.effects(system="esign", action="create_envelope")
                if e["payload"]["correlation_key"] == child
            ],
            timeout=240,
        )
        return str(found[0])

    def signer(self, partner: dict[str, Any], action: str) -> None:
        envelope = self.envelope(partner)
        _, child_run = self.child(partner)
        self.af.wait_task_state(CHILD, child_run, "wait_for_signature", ("deferred",), timeout=180)
        done = self.live.sandbox("POST", f"/_sandbox/esign/envelopes/{envelope}/{action}")
        assert [d["status_code"] for d in done["deliveries"]] == [202], done

    def region_comes_up(self) -> str:
        region = self.af.wait(
            "the region",
            lambda: [
                e["resource_id"]
                for e in self.effects(system="infra", action="provision_region")
                if e["payload"]["correlation_key"] == f"{self.workflow_id}:region"
            ],
            timeout=300,
        )[0]
        done = self.live.sandbox("POST", f"/_sandbox/infra/regions/{region}/ready")
        assert [d["status_code"] for d in done["deliveries"]] == [202], done
        return str(region)

    def lead_answers(self, round_no: int, option: str, comment: str) -> None:
        task = f"round_{round_no}.scale_decision"
        self.af.wait_task_state(DAG, self.run_id, task, ("awaiting_input",), timeout=240)
        time.sleep(PEOPLE_DELAY_S)
        resp = self.af.answer(DAG, self.run_id, task, option, user="launch_lead", comment=comment)
        assert resp.status_code == 200, resp.text

    def row(self, query: str) -> tuple[Any, ...]:
        with self.db.cursor() as cur:
            cur.execute(query, (self.workflow_id,))
            found = cur.fetchall()
        assert len(found) == 1, found
        return tuple(found[0])

    def mine(self) -> Counter[tuple[str, str]]:
        """This launch's effects at the launch's own systems (the children's are counted apart)."""
        flag = self.row("SELECT flag_key FROM geo_launches WHERE workflow_id = %s")[0]
        ids = {
            r[0] for r in self.rows("SELECT resource_id FROM geo_launch_resources WHERE workflow_id = %s")
        } | {flag}
        signers = {p["signer_email"] for p in self.partners}
        filing = self.filing()
        keys = (f"{self.workflow_id}:regulator", f"{self.workflow_id}:region")
        found: Counter[tuple[str, str]] = Counter()
        for e in self.effects():
            payload = e["payload"] if isinstance(e["payload"], dict) else {}
            if (
                e["resource_id"] in ids
                or payload.get("tenant_id") in ids
                or payload.get("correlation_key") in keys
                or (e["system"] == "regulator" and e["resource_id"] == filing)
                or (e["system"] == "notify" and self.workflow_id in str(e["idempotency_key"]))
                or (
                    e["system"] == "email"
                    and payload.get("to") in signers
                    and "Launch in" in str(payload.get("subject"))
                )
            ):
                found[(e["system"], e["action"])] += 1
        return found

    def filing(self) -> str:
        return str(self.row("SELECT filing_id FROM geo_launches WHERE workflow_id = %s")[0])

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        with self.db.cursor() as cur:
            cur.execute(query, (self.workflow_id,))
            return list(cur.fetchall())

    def took(self) -> float:
        return time.monotonic() - self.t0


def test_launch_to_full_with_real_contract_children(live: Any, business_db: Any) -> None:
    launch = Launch(live, business_db)
    af = launch.af
    launch.start()
    launch.regulator_decides("clear_with_conditions", {"conditions": ["local data protection officer"]})
    for partner in launch.partners:
        launch.signer(partner, "sign")
    for partner in launch.partners:
        assert af.wait_run(CHILD, launch.child(partner)[1], timeout=300) == "success"
    launch.region_comes_up()
    launch.lead_answers(1, "Widen", "5% canary within guardrails")
    assert af.wait_run(DAG, launch.run_id, timeout=300) == "success"
    wall = launch.took()

    assert launch.row("SELECT status FROM saga_workflows WHERE workflow_id = %s") == ("completed",)
    assert launch.row(
        "SELECT status, share_pct, regulator_decision, regulator_conditions FROM geo_launches"
        " WHERE workflow_id = %s"
    ) == ("launched", 100, "cleared_with_conditions", ["local data protection officer"])
    assert sorted(launch.rows("SELECT status FROM geo_launch_partners WHERE workflow_id = %s")) == [
        ("signed",),
        ("signed",),
    ]
    # The children are real signature_commitment runs: completed, each its own ledger and evidence pack.
    for partner in launch.partners:
        child, _ = launch.child(partner)
        with business_db.cursor() as cur:
            cur.execute("SELECT status FROM saga_workflows WHERE workflow_id = %s", (child,))
            assert cur.fetchone() == ("completed",)
            cur.execute("SELECT count(*) FROM evidence_packs WHERE workflow_id = %s", (child,))
            assert cur.fetchone() == (1,)
    assert launch.mine() == Counter(
        {
            ("regulator", "submit_filing"): 1,
            ("infra", "provision_region"): 1,
            ("infra", "create_tenant"): 1,
            ("infra", "open_payment_account"): 1,
            ("infra", "allocate_number"): 1,
            ("infra", "enable_tenant"): 1,
            ("metrics", "create_cohort"): 1,
            ("flags", "create_flag"): 1,
            ("flags", "set_rollout"): 2,  # 5 %, then 100 %
            ("notify", "notify_user"): 100,  # every user of the market, once
        }
    ), launch.mine()
    envelopes = Counter(
        e["payload"]["correlation_key"] for e in launch.effects(system="esign", action="create_envelope")
    )
    assert [envelopes[launch.child(p)[0]] for p in launch.partners] == [1, 1]
    print(
        f"\nREST start -> launch success (regulator, 2 real contract children, region, 1 round): {wall:.1f} s"
    )


def test_canary_breach_rolls_back_and_compensates_once(live: Any, business_db: Any) -> None:
    launch = Launch(live, business_db)
    af = launch.af
    live.sandbox("POST", "/_sandbox/metrics/figures", json={"market": "BR", "scenario": "breach"})
    try:
        launch.start()
        launch.regulator_decides("clear")
        for partner in launch.partners:
            launch.signer(partner, "sign")
        launch.region_comes_up()
        assert af.wait_run(DAG, launch.run_id, timeout=420) == "failed"
    finally:
        live.sandbox("DELETE", "/_sandbox/metrics/figures")
    failed_at = launch.took()
    assert af.run(DAG, launch.run_id)["note"].startswith("FAILED: canary breached its guardrails in round 1")
    assert af.task_states(DAG, launch.run_id)["round_1.canary_breached"] == "failed"

    assert af.wait_run("saga_compensation", f"compensate__{launch.workflow_id}", timeout=300) == "success"
    compensated_at = launch.took()
    assert launch.row("SELECT status FROM saga_workflows WHERE workflow_id = %s") == ("compensated",)
    assert launch.row("SELECT status, share_pct FROM geo_launches WHERE workflow_id = %s") == (
        "rolled_back",
        0,
    )
    assert sorted(launch.rows("SELECT kind, status FROM geo_launch_resources WHERE workflow_id = %s")) == [
        ("messaging_number", "removed"),
        ("payment_account", "removed"),
        ("region", "removed"),
        ("tenant", "removed"),
    ]
    assert launch.mine() == Counter(
        {
            ("regulator", "submit_filing"): 1,
            ("regulator", "withdraw_filing"): 1,
            ("infra", "provision_region"): 1,
            ("infra", "create_tenant"): 1,
            ("infra", "open_payment_account"): 1,
            ("infra", "allocate_number"): 1,
            ("infra", "enable_tenant"): 1,
            ("infra", "disable_tenant"): 1,
            ("infra", "release_number"): 1,
            ("infra", "close_payment_account"): 1,
            ("infra", "delete_tenant"): 1,
            ("infra", "deprovision_region"): 1,
            ("metrics", "create_cohort"): 1,
            ("flags", "create_flag"): 1,
            ("flags", "set_rollout"): 2,  # the canary on, then off
            ("notify", "notify_user"): 5,  # each user who saw the canary, once
            ("email", "send"): 2,  # each signed partner told the launch stopped
        }
    ), launch.mine()
    # The signed contracts are kept: their children stay completed, nothing voided.
    for partner in launch.partners:
        child, _ = launch.child(partner)
        with business_db.cursor() as cur:
            cur.execute("SELECT status FROM saga_workflows WHERE workflow_id = %s", (child,))
            assert cur.fetchone() == ("completed",)
    print(
        f"\nREST start -> breach, run failed: {failed_at:.1f} s;"
        f" -> compensation success: {compensated_at:.1f} s"
    )


def test_a_declined_contract_stops_the_other_child_through_its_compensation(
    live: Any, business_db: Any
) -> None:
    launch = Launch(live, business_db)
    af = launch.af
    launch.start()
    launch.regulator_decides("clear")
    pay, log = launch.partners
    launch.envelope(log)  # the other child's envelope is out, unsigned
    launch.signer(pay, "decline")
    assert af.wait_run(DAG, launch.run_id, timeout=300) == "failed"
    failed_at = launch.took()
    reason = f"contract with PagaRapido ({pay['partner_id']}) declined"
    assert af.run(DAG, launch.run_id)["note"].startswith(f"REJECTED: {reason}")

    assert af.wait_run("saga_compensation", f"compensate__{launch.workflow_id}", timeout=300) == "success"
    compensated_at = launch.took()
    assert launch.row("SELECT status FROM saga_workflows WHERE workflow_id = %s") == ("compensated",)
    assert launch.row("SELECT status FROM geo_launches WHERE workflow_id = %s") == ("declined",)
    # The declined child compensated itself; the other child, still out, was stopped and compensated through
    # its own compensation: its envelope voided, its signer told.
    log_child, log_run = launch.child(log)
    assert af.wait_run("saga_compensation", f"compensate__{log_child}", timeout=300) == "success"
    assert af.run(CHILD, log_run)["state"] == "failed"
    envelope = launch.envelope(log)
    voided = [
        e for e in launch.effects(system="esign", action="void_envelope") if e["resource_id"] == envelope
    ]
    assert len(voided) == 1
    pay_child, _ = launch.child(pay)
    assert af.wait_run("saga_compensation", f"compensate__{pay_child}", timeout=300) == "success"
    for child in (pay_child, log_child):
        with business_db.cursor() as cur:
            cur.execute("SELECT status FROM saga_workflows WHERE workflow_id = %s", (child,))
            assert cur.fetchone() == ("compensated",)
    # Nothing was provisioned; the filing withdrawn; no partner signed, so none is told the launch stopped.
    assert launch.mine() == Counter({("regulator", "submit_filing"): 1, ("regulator", "withdraw_filing"): 1})
    print(
        f"\nREST start -> declined, run failed: {failed_at:.1f} s;"
        f" -> compensation success: {compensated_at:.1f} s"
    )
