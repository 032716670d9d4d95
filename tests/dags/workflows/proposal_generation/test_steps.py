"""proposal_generation's steps below the DAG (``durable.body_of``), on the real ledger, business database
and sandbox: what ``deal_data`` refuses and the field it names; every step run twice, as a retry runs it,
does its side effect once; an LLM answer lost on the way back is not asked for twice."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from execution_plane.durable import Run, body_of
from execution_plane.hooks.crm import CrmHook
from execution_plane.hooks.http import ProviderError
from tests.support.workflow_runs import ParamsRun, ledger_steps, one
from workflows.proposal_generation import delivery, drafting, pricing

DAG_ID = "proposal_generation"
LAUNCH = [
    {"sku": "EP-PLATFORM", "quantity": 300},
    {"sku": "EP-ANALYTICS", "quantity": 300},
    {"sku": "EP-ONBOARDING", "quantity": 1},
]
CHECK = {"deal_id": "D-open", "items": LAUNCH, "requested_discount_pct": 0, "currency": "USD"}


def step_run(**params: Any) -> Run:
    """The Run a step of one new workflow receives (the params as the DAG's form resolves them)."""
    request_id = f"pg-steps-{uuid.uuid4().hex[:10]}"
    resolved = {
        "request_id": request_id,
        "deal_id": f"D-{request_id}",
        "items": LAUNCH,
        "requested_discount_pct": 5,
        "currency": "USD",
        "language": "en+ar",
        "valid_days": 30,
        "approval_timeout_hours": 48,
        **params,
    }
    return Run({"params": resolved, "dag": SimpleNamespace(dag_id=DAG_ID), "run_id": f"manual__{request_id}"})


def counted(sandbox: Any) -> Counter[tuple[str, str]]:
    return Counter((e["system"], e["action"]) for e in sandbox.effects() if e["system"] != "crm")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"items": [{"sku": "EP-PLATFORM", "quantity": 10}, {"sku": "EP-ANALYTICS", "quantity": 12}]},
            "items[1].quantity: 12 seats of EP-ANALYTICS but 10 platform seats",
        ),
        ({"items": [{"sku": "EP-WORKFLOWS", "quantity": 5}]}, "items[0].sku: EP-WORKFLOWS is an add-on"),
        ({"requested_discount_pct": 41}, "requested_discount_pct: between 0 and 40"),
    ],
)
def test_a_request_the_cpq_rules_refuse_names_the_field(
    sandbox: Any, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(AirflowFailException, match=re.escape(message)):
        body_of(drafting.deal_data)(ParamsRun({**CHECK, **changes}))
    assert counted(sandbox) == Counter()


def test_a_deal_that_is_closed_missing_or_without_an_owner_is_refused(sandbox: Any) -> None:
    check = body_of(drafting.deal_data)
    tag = uuid.uuid4().hex[:6]
    crm = CrmHook()
    try:
        crm.update_deal(f"D-lost-{tag}", status="closed_lost", idempotency_key=f"test-lost-{tag}")
        orphan = {"owner_email": None}
        crm.update_deal(f"D-orphan-{tag}", status="open", fields=orphan, idempotency_key=f"test-orphan-{tag}")
    finally:
        crm.close()
    with pytest.raises(AirflowFailException, match=f"deal_id: deal D-lost-{tag} is closed_lost: no proposal"):
        check(ParamsRun({**CHECK, "deal_id": f"D-lost-{tag}"}))
    with pytest.raises(
        AirflowFailException, match=f"deal_id: deal 'D-orphan-{tag}' in the CRM is unusable: owner_email: "
    ):
        check(ParamsRun({**CHECK, "deal_id": f"D-orphan-{tag}"}))
    # A deal the CRM does not have (the sandbox has every deal: the CRM's answer is made a 404).
    sandbox.post("/_sandbox/faults", {"system": "crm", "action": "get_deal", "status": 404})
    with pytest.raises(AirflowFailException, match=f"deal_id: the CRM has no deal 'D-gone-{tag}'"):
        check(ParamsRun({**CHECK, "deal_id": f"D-gone-{tag}"}))
    # Any other CRM failure is left to the task's retries.
    sandbox.post("/_sandbox/faults", {"system": "crm", "action": "get_deal", "status": 503})
    with pytest.raises(ProviderError, match="crm answered HTTP 503"):
        check(ParamsRun(CHECK))
    assert check(ParamsRun(CHECK))["deal"]["deal_id"] == "D-open"


def test_every_step_run_twice_does_its_side_effect_once(sandbox: Any, business_db: Any) -> None:
    run = step_run()
    checked = body_of(drafting.deal_data)(run)
    outputs = []
    for _ in range(2):
        context = body_of(drafting.retrieve_context)(run, checked)
        drafted = body_of(drafting.draft)(run, checked)
        priced = body_of(pricing.price)(run, checked)
        rendered = body_of(delivery.render_pdf)(run, checked)
        notified = body_of(delivery.notify_owner)(run, checked, rendered)
        outputs.append((context, drafted, priced, rendered, notified))

    assert outputs[0] == outputs[1]
    assert outputs[0][2]["next"] == pricing.WITHIN_AUTHORITY and outputs[0][2]["needs_approval"] is False
    assert counted(sandbox) == {
        ("llm", "completion"): 2,
        ("docstore", "put_object"): 1,
        ("email", "send"): 1,
    }
    wf = run.workflow_id
    assert one(business_db, "SELECT status, document_sha256 FROM proposals WHERE workflow_id = %s", wf) == (
        "sent",
        outputs[0][3]["sha256"],
    )
    assert [step for step, _status, _undo in ledger_steps(business_db, wf)] == [
        "context",
        "draft.en",
        "draft.ar",
        "draft",
        "price",
        "proposal.pdf",
        "rendered",
        "owner_notice",
    ]


def test_an_llm_answer_lost_on_the_way_back_is_not_asked_for_twice(sandbox: Any, business_db: Any) -> None:
    run = step_run(language="en")
    checked = body_of(drafting.deal_data)(run)
    body_of(drafting.retrieve_context)(run, checked)
    # The provider writes the summary, then its answer is lost (a 504 at the gateway).
    sandbox.post("/_sandbox/faults", {"system": "llm", "action": "completion", "mode": "drop"})
    with pytest.raises(ProviderError, match="llm answered HTTP 504"):
        body_of(drafting.draft)(run, checked)
    assert one(business_db, "SELECT draft FROM proposals WHERE workflow_id = %s", run.workflow_id) is None

    # The task's retry sends the same Idempotency-Key: the provider replays the summary it wrote.
    assert body_of(drafting.draft)(run, checked) == {"languages": ["en"]}
    assert len(sandbox.effects(system="llm", action="completion")) == 1
    draft = one(business_db, "SELECT draft FROM proposals WHERE workflow_id = %s", run.workflow_id)
    assert set(draft) == {"en"} and draft["en"]
