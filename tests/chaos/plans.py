"""What each chaos run is planned to do, and the long-lived workflows' plans: ma_offer, geo_expansion_launch
and pmi_program runs, their signing children, and the outside parties' acts that move them (counsel, the
financial advisors, the regulator, the target company, the region's provider, the banks and the companies
registry).

Every outside party acts as the priority workflows' partners and signers do: the sandbox's control route
changes the provider's state without delivering (``deliver=false``) and hands back the provider's webhook
event; the chaos `Provider` delivers it twice, shuffled with every other webhook, until the ingress accepts
it. An act is taken once, when the task it answers waits, and never for a run whose people still hold.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.chaos.support import utc_now_iso
from tests.e2e.test_geo_expansion_launch_live import READY as GEO_READY  # the live test's checklist
from workflows.geo_expansion_launch.common import LAUNCH_LEAD
from workflows.ma_offer.common import BOARD
from workflows.pmi_program.common import ATTEMPTS, FUNCTIONS, LEAD

MA, GEO, PMI, SC = "ma_offer", "geo_expansion_launch", "pmi_program", "signature_commitment"

Event = tuple[str, dict[str, Any]]  # (webhook path under /webhooks, the provider's event)
Events = Callable[[Any], "list[Event] | None"]  # given the chaos stack: the webhooks, or None: not yet


@dataclass
class Act:
    """An outside party's answer: taken once ``task_id`` of the plan's run is in one of ``when``; ``events``
    gives the webhooks to deliver, or None while what it answers is not there yet."""

    name: str
    task_id: str
    events: Events
    when: tuple[str, ...] = ("deferred",)


@dataclass
class Plan:
    dag_id: str
    kind: str
    request_id: str
    conf: dict[str, Any]
    answers: dict[str, tuple[str, str]]  # task_id -> (option, assigned user)
    expect_run: str  # success | failed
    expect_saga: str  # completed | compensated
    partner_event: str | None = None  # partner_approval: partner.accepted / partner.declined
    partner_early: bool = False  # sent before the run waits for it
    signer_action: str | None = None  # signature_commitment: sign / decline
    start: str = "crm"  # crm: the CRM's webhook; rest: the REST API; parent: a parent workflow's child
    run_id: str = ""
    workflow_id: str = ""
    acts: list[Act] = field(default_factory=list)
    crm_deal_closed: bool = False  # the CRM deal is closed_won before the run starts

    def __post_init__(self) -> None:
        self.run_id = self.run_id or (
            f"crm__{self.event_id}" if self.start == "crm" else f"chaos__{self.request_id}"
        )
        self.workflow_id = self.workflow_id or f"{self.dag_id}:{self.request_id}"

    @property
    def event_id(self) -> str:
        return f"crm-{self.request_id}"


def effect_ids(c: Any, system: str, action: str, needle: str) -> list[str]:
    """The resource ids the provider gave the calls of ``system.action`` that mention ``needle`` (in their
    idempotency key or payload), oldest first."""
    resp = c.sandbox.get("/_sandbox/effects", params={"system": system, "action": action})
    resp.raise_for_status()
    return [
        str(e["resource_id"])
        for e in resp.json()["effects"]
        if needle in str(e["idempotency_key"]) or needle in str(e["payload"])
    ]


def control_event(c: Any, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provider acts (its sandbox control route, ``deliver=false``) and hands back its webhook."""
    resp = c.sandbox.post(path, params={"deliver": "false"}, json=body)
    resp.raise_for_status()
    event: dict[str, Any] = resp.json()["event"]
    return event


def provider_acts(
    system: str, action: str, needle: str, controls: list[tuple[str, dict[str, Any] | None]]
) -> Events:
    """The resource the run asked ``system`` for (from the effect log), then each control on it (``{id}``)."""

    def events(c: Any) -> list[Event] | None:
        found = effect_ids(c, system, action, needle)
        if not found:
            return None
        return [
            (f"/events/{system}", control_event(c, path.format(id=found[0]), body)) for path, body in controls
        ]

    return events


def direct_event(source: str, event_id: str, type_: str, correlation_key: str) -> Events:
    """A party that posts to the events webhook itself (the target company's answer)."""

    def events(_: Any) -> list[Event] | None:
        body = {
            "event_id": event_id,
            "type": type_,
            "correlation_key": correlation_key,
            "occurred_at": utc_now_iso(),
            "payload": {"note": "chaos"},
        }
        return [(f"/events/{source}", body)]

    return events


def request_id(prefix: str, i: int) -> str:
    return f"{prefix}-{i:02d}-{uuid.uuid4().hex[:6]}"


def child_plan(parent: str, rid: str, stage: str, kind: str = "signed") -> Plan:
    """A signature_commitment run a parent started for its stage; its signer signs."""
    return Plan(
        SC,
        kind,
        f"{rid}.{stage}",
        {},
        {},
        "success",
        "completed",
        signer_action="sign",
        start="parent",
        run_id=f"child__{parent}:{rid}__{stage}",
    )


# ------------------------------------------------------------------------------------------------ ma_offer
def ma_offer_plans(i: int) -> list[Plan]:
    """Even: the target accepts and its contact signs the child's envelope (completed). Odd: the target
    rejects after the offer was sent and the filing cleared (compensated: filing withdrawn, target told once,
    deal room archived)."""
    rid = request_id("cma", i)
    wf = f"{MA}:{rid}"
    signed = i % 2 == 0
    answer = "accepted" if signed else "rejected"
    filing = f"{wf}:filing"
    acts = [
        Act(
            f"{firm} opinion",
            f"review_1.{firm}_review",
            provider_acts(
                firm,
                "request_review",
                f"{wf}:review:{firm}:1",
                [(f"/_sandbox/{firm}/reviews/{{id}}/opinion", {"summary": "chaos: no objection"})],
            ),
        )
        for firm in ("counsel", "advisor")
    ]
    acts += [
        Act(
            "regulator acknowledges",
            "regulator_acknowledgement",
            provider_acts(
                "regulator", "submit_filing", filing, [("/_sandbox/regulator/filings/{id}/acknowledge", None)]
            ),
        ),
        Act(
            "regulator clears",
            "regulator_decision",
            provider_acts(
                "regulator", "submit_filing", filing, [("/_sandbox/regulator/filings/{id}/clear", None)]
            ),
        ),
        Act(
            f"target {answer}",
            "negotiation_1.target_response",
            direct_event("target", f"{rid}-{answer}", f"offer.{answer}", f"{wf}:response:1"),
        ),
    ]
    conf = {
        "request_id": rid,
        "deal_id": f"deal-{rid}",
        "target_id": f"T-{rid}",
        "target_company": "Nimbus Analytics",
        "target_contact_email": f"{rid}@nimbus.example",
        "target_contact_name": "Dana Cfo",
        "base_valuation_usd": 50_000_000,
    }
    plan = Plan(
        MA,
        "signed" if signed else "target_rejects",
        rid,
        conf,
        {"board_approval": ("Approve", BOARD)},
        "success" if signed else "failed",
        "completed" if signed else "compensated",
        start="rest",
        acts=acts,
    )
    return [plan, child_plan(MA, rid, "signing")] if signed else [plan]


# ------------------------------------------------------------------------------------- geo_expansion_launch


def geo_plans(i: int) -> list[Plan]:
    """Even: two partners sign, the region comes up, the lead widens the canary to the full launch
    (completed). Odd: one partner signs, the lead rolls the canary back (compensated: flag off, users who saw
    it told, everything provisioned removed, the signed partner told, the filing withdrawn)."""
    rid = request_id("cgeo", i)
    wf = f"{GEO}:{rid}"
    launched = i % 2 == 0
    partners = [
        {
            "partner_id": f"P{k}-{rid}",
            "deal_id": f"D{k}-{rid}",
            "name": f"Parceiro {k}",
            "signer_email": f"signer{k}-{rid}@partner.example",
            "signer_name": "Ana Souza",
            "terms": {"revenue_share_pct": 10 + k, "term_months": 24},
        }
        for k in range(1, 3 if launched else 2)
    ]
    conf = {
        "request_id": rid,
        "market": "BR",
        "market_name": "Brazil",
        "currency": "BRL",
        "region": "sa-east-1",
        "partners": partners,
        "readiness": GEO_READY,
        "rollout_steps_pct": [5],
        "metrics_window_hours": 0.0005,  # about 2 s
    }
    acts = [
        Act(
            "regulator acknowledges and clears",
            "regulatory_decision",
            provider_acts(
                "regulator",
                "submit_filing",
                f"{wf}:regulator",
                [
                    ("/_sandbox/regulator/filings/{id}/acknowledge", None),
                    ("/_sandbox/regulator/filings/{id}/clear", None),
                ],
            ),
        ),
        Act(
            "region ready",
            "region_ready",
            provider_acts(
                "infra", "provision_region", f"{wf}:region", [("/_sandbox/infra/regions/{id}/ready", None)]
            ),
        ),
    ]
    plan = Plan(
        GEO,
        "launched" if launched else "rolled_back",
        rid,
        conf,
        {"round_1.scale_decision": ("Widen" if launched else "Roll back", LAUNCH_LEAD)},
        "success" if launched else "failed",
        "completed" if launched else "compensated",
        start="rest",
        acts=acts,
    )
    # The signed contracts bind: a rolled-back launch keeps its children completed.
    return [plan] + [child_plan(GEO, rid, f"partner-{p['partner_id']}") for p in partners]


# ---------------------------------------------------------------------------------------------- pmi_program
def pmi_plans(i: int) -> list[Plan]:
    """Even: every review passes (completed). Odd: the Day-30 review stops the program (compensated: each
    function's Day-1 work undone, the entities separated again, everyone affected told once). Started by the
    CRM's webhook once the deal closed; a program day lasts a second, the gates come 10, 20 and 30 days after
    Day 1; the banks and the registry confirm while the Day-30 date is awaited."""
    rid = request_id("cpmi", i)
    stop = i % 2 == 1
    answers = {"day1_readiness": ("Approve", LEAD)}
    # A function whose Day-1 work failed through its retries (a provider outage) is retried by the lead.
    for function in FUNCTIONS:
        for n in range(1, ATTEMPTS):
            answers[f"{function}.decision_{n}"] = ("Retry", LEAD)
    answers["day30.review_r1"] = ("Stop" if stop else "Pass", LEAD)
    if not stop:
        answers["day60.review_r1"] = ("Pass", LEAD)
        answers["day90.review_r1"] = ("Pass", LEAD)
    conf = {
        "request_id": rid,
        "deal_id": f"deal-{rid}",
        "target_company": "Lumen Logistics",
        "target_company_id": f"T-{rid}",
        "day_seconds": 1.0,
        "day30_days": 10,
        "day60_days": 20,
        "day90_days": 30,
    }
    needle = f"{PMI}:{rid}:"

    def confirmations(c: Any) -> list[Event] | None:
        rows = c.business.rows(
            "SELECT jsonb_array_length(plan->'bank_accounts') FROM pmi_programs WHERE workflow_id = %s",
            f"{PMI}:{rid}",
        )
        mandates = effect_ids(c, "erp", "request_mandate", needle)
        changes = effect_ids(c, "legal", "file_parent_change", needle)
        if not rows or len(mandates) < int(rows[0][0]) or not changes:
            return None
        out: list[Event] = [
            ("/events/erp", control_event(c, f"/_sandbox/erp/bank-mandates/{m}/activate")) for m in mandates
        ]
        registered = control_event(c, f"/_sandbox/legal/parent-changes/{changes[0]}/register")
        return [*out, ("/events/legal", registered)]

    return [
        Plan(
            PMI,
            "stopped_at_day30" if stop else "closed",
            rid,
            conf,
            answers,
            "failed" if stop else "success",
            "compensated" if stop else "completed",
            acts=[Act("banks and registry confirm", "day30.wait_r1", confirmations)],
            crm_deal_closed=True,
        )
    ]
