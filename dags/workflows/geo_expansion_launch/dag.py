"""
### Geographic expansion launch (long-lived durable, 4-12 weeks)

**Market readiness checks** (the launch team's checklist in `readiness`: localization, local-currency
pricing, tax registration, >= 8 h local support, a local payment method, privacy review approved, and a
region in the country when data must stay there; any failed check ends the launch *rejected*, nothing
filed) -> **regulatory approval**: the market-entry filing at the regulator's portal (`regulator_default`,
kind `market_entry`, subject the market), then the regulator's decision, weeks later, as its signed webhook
(`filing.cleared` / `filing.cleared_with_conditions` / `filing.refused`, correlation key
`geo_expansion_launch:<request_id>:regulator`); when `regulatory_timeout_hours` pass without one, the filing
is read once (a lost webhook) and otherwise the launch *expires*. Conditions of a conditional clearance are
recorded and the launch goes on -> **local partner contracts**: each partner's terms through
`signature_commitment` as a **child run**, all partners in parallel. The launch issues each child's approval
token for that partner's exact terms (signed with the `approval_token` connection's secret, approver
`terms_approved_by`) and starts the child once under its own stage `partner-<partner_id>` (child request id
`<request_id>.partner-<partner_id>`, run id `child__geo_expansion_launch:<request_id>__partner-<partner_id>`),
then waits for its outcome holding nothing. Every partner must sign: one that declines, lets the request
expire or whose child fails ends the launch at once: its compensation stops the children still out (their
own compensation voids their envelopes) and their outcomes end the other waits ->
**infrastructure provisioned**: the market's region (the provider answers `provisioning` and calls back
`infra.region.ready` / `infra.region.failed`; a ready region whose callback was lost is found when
`provisioning_timeout_hours` pass), then its tenant, payment account and messaging number, each an
idempotent provider call -> **market enabled** (its tenant live) **behind a feature flag** for the plan's
first share of users (`rollout_steps_pct[0]`), its canary cohort registered with the product metrics ->
**canary evaluation**: a metrics window of `metrics_window_hours` (a date wait: deferred, holding no worker
and no triggerer slot beyond a timer), then the canary's error rate, p95 latency and conversion (against
the existing markets' conversion) compared with `guardrails`. A **breach rolls back by itself** (the launch
ends failed, compensation turns the flag off); a pass, or too few sessions to judge, asks the launch lead ->
**scale decision** (`launch_lead`, or `admin`): **Widen** (the plan's next share, another window and
decision; past the plan's last share: the full launch), **Hold** (the same share for another window and
decision) or **Roll back**; no answer within `scale_decision_timeout_hours` rolls back (a canary nobody
watches must not stay on) -> **full launch** (the flag on for 100 % of the market) -> **users told** (every
user of the market, once) -> complete.

**Compensation** (a refusal, an expiry, a declined contract, a failed step, a breach, a roll back), newest
first: the flag off (**canary rolled back**), each user who saw the market told once that the early access
ended (the flag provider's exposures; one campaign, a user at most once), the **market disabled** (its
tenant), the messaging number, payment account, tenant and region **deprovisioned** (only what was
provisioned), each partner whose contract was **signed told** the launch stopped (the signed contract is
kept: it binds), each contract child still out **compensated through its own compensation** (its envelope
voided, its signer told) and its run stopped, the **filing withdrawn**, the launch record closed.

**Choices a launch team would expect, made here**: every listed partner is required (a launch with a
partner missing is another plan); the rollout is a list of growing shares below 100 %, and widening after
the last one is the full launch; the graph holds 5 rounds (the canary and 4 more): each Hold uses one, no
Hold in the last round, and widening in the last round is the full launch; fewer sessions than
`min_sample_size` in a window is *inconclusive* (the lead decides, usually Hold), never an automatic
roll back on noise; the regulator's conditions do not stop the launch (they are recorded for the team).
**Why a mapped task group for the partners**: their number is the launch's (1-10), and each partner's
start, wait and outcome are one mapped instance of the group (retried alone, under its own child stage); a
fixed shape would park empty slots or need a routing step per slot. The DAG is not `fail_fast`: Airflow
allows only `all_success` trigger rules there, and the full launch joins whichever round widened to it.

**Drive it**: start with the trigger form or `POST /api/v2/dags/geo_expansion_launch/dagRuns` (params
below); the regulator decides on the portal (sandbox: `POST /_sandbox/regulator/filings/{id}/clear|
clear_with_conditions|refuse` after `acknowledge`); each partner signs its child's envelope; the region
comes up (`POST /_sandbox/infra/regions/{id}/ready|fail`); answer the scale decision as `launch_lead`:
`PATCH /api/v2/dags/geo_expansion_launch/dagRuns/{run}/taskInstances/round_<n>.scale_decision/-1/hitlDetails`
`{"chosen_options": ["Widen"], "params_input": {"comment": "..."}}` (or `Hold`, `Roll back`).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import Param, TaskGroup, task_group

from execution_plane.durable import (
    complete,
    durable_workflow,
    routes,
    timeout_hours_param,
    wait_for_child,
    wait_for_event,
)
from execution_plane.saga.keys import ID_PATTERN
from workflows.geo_expansion_launch import (
    canary,
    contracts,
    infrastructure,
    launch,
    readiness,
    regulatory,
    scale,
)
from workflows.geo_expansion_launch.common import (
    LAUNCH_LEAD_EMAIL,
    MAX_PARTNERS,
    MAX_ROUNDS,
    REGION_EVENTS,
    REGIONS,
    REGULATOR_DECISION_EVENTS,
)

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PARTNER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["partner_id", "deal_id", "name", "signer_email", "signer_name", "terms"],
    "properties": {
        "partner_id": {"type": "string", "pattern": ID_PATTERN},
        "deal_id": {"type": "string", "pattern": ID_PATTERN},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "signer_email": {"type": "string", "pattern": EMAIL, "maxLength": 254},
        "signer_name": {"type": "string", "minLength": 1, "maxLength": 200},
        "terms": {"type": "object", "minProperties": 1},
    },
}
READINESS = {
    "localization_complete": {"type": "boolean"},
    "pricing_in_local_currency": {"type": "boolean"},
    "tax_registration": {"type": "boolean"},
    "support_coverage_hours": {"type": "integer", "minimum": 0, "maximum": 24},
    "payment_methods": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 50}},
    "privacy_review": {"type": "string", "enum": ["approved", "pending", "rejected"]},
    "data_residency_required": {"type": "boolean"},
}
GUARDRAILS = {
    "max_error_rate": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "max_p95_latency_ms": {"type": "number", "exclusiveMinimum": 0},
    "min_conversion_ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 2},
    "min_sample_size": {"type": "integer", "minimum": 1},
}


@durable_workflow(
    doc_md=__doc__,
    tags=["expansion"],
    request_id_description="Unique id of this launch (e.g. the expansion program's id for the market)",
    params={
        "market": Param(type="string", pattern=r"^[A-Z]{2}$", description="ISO 3166-1 code of the market"),
        "market_name": Param(type="string", minLength=1, maxLength=100),
        "currency": Param(type="string", pattern=r"^[A-Z]{3}$", description="ISO 4217 code of its prices"),
        "region": Param(type="string", enum=list(REGIONS), description="Cloud region hosting the market"),
        "partners": Param(
            type="array",
            minItems=1,
            maxItems=MAX_PARTNERS,
            items=PARTNER,
            description="Local partners: each signs its terms through signature_commitment (a child run)",
        ),
        "readiness": Param(
            type="object",
            additionalProperties=False,
            required=sorted(set(READINESS) - {"payment_methods", "data_residency_required"}),
            properties=READINESS,
            description="The launch team's readiness checklist",
        ),
        "rollout_steps_pct": Param(
            [5, 25, 50],
            type="array",
            minItems=1,
            maxItems=MAX_ROUNDS,
            items={"type": "integer", "minimum": 1, "maximum": 99},
            description="Growing shares of users; the first is the canary, widening after the last is 100 %",
        ),
        "guardrails": Param(
            {
                "max_error_rate": 0.02,
                "max_p95_latency_ms": 800,
                "min_conversion_ratio": 0.9,
                "min_sample_size": 100,
            },
            type="object",
            additionalProperties=False,
            properties=GUARDRAILS,
        ),
        "terms_approved_by": Param(
            LAUNCH_LEAD_EMAIL, type="string", pattern=EMAIL, description="Who approved the partners' terms"
        ),
        "regulatory_timeout_hours": timeout_hours_param(
            24 * 42, max_days=180, description="No regulatory decision by then -> expired"
        ),
        "contract_timeout_hours": timeout_hours_param(
            # At most what signature_commitment accepts as its signature_timeout_hours.
            24 * 14,
            description="Each partner's signature deadline (its child's)",
        ),
        "renegotiation_timeout_hours": timeout_hours_param(
            72, description="A child's re-negotiate choice after an unsigned contract"
        ),
        "provisioning_timeout_hours": timeout_hours_param(48, description="The region is ready by then"),
        "metrics_window_hours": timeout_hours_param(72, description="Each canary round's metrics window"),
        "scale_decision_timeout_hours": timeout_hours_param(
            72, description="No scale decision by then -> rolled back"
        ),
    },
)
def geo_expansion_launch() -> None:
    ready = readiness.market_readiness()
    filed = regulatory.file_market_entry(ready)
    not_ready = readiness.not_ready(ready)
    routes(ready, ready=filed, not_ready=not_ready)
    regulator = wait_for_event(
        "regulatory_decision",
        correlation_key=filed["correlation_key"],
        event_types=REGULATOR_DECISION_EVENTS,
        timeout_at=filed["decide_by"],
    )
    filed >> regulator
    decision = regulatory.route_regulatory_decision(regulator.output, filed)
    to_sign = contracts.contracts_to_sign(decision)
    refused = regulatory.regulatory_ended(decision)
    routes(decision, cleared=to_sign, otherwise=refused)

    @task_group(group_id="partner_contracts")
    def partner_contract(partner: dict[str, Any]) -> Any:
        started = contracts.start_partner_contract(partner)
        signed = wait_for_child("contract_signed", started=started, timeout_at=started["wait_until"])
        started >> signed
        return contracts.contract_outcome(signed.output, started)

    signed = partner_contract.expand(partner=to_sign)

    region = infrastructure.provision_region(signed)
    region_ready = wait_for_event(
        "region_ready",
        correlation_key=region["correlation_key"],
        event_types=REGION_EVENTS,
        timeout_at=region["ready_by"],
    )
    region >> region_ready
    provisioned = infrastructure.provision_market(region_ready.output, region)
    window = canary.enable_canary(provisioned)

    launched = []
    previous = None
    for round_no in range(1, MAX_ROUNDS + 1):
        with TaskGroup(group_id=f"round_{round_no}", tooltip=f"Canary round {round_no}"):
            # Deferred from a worker (a required param: execution_plane.compat.trigger_start), resumed on one:
            # Airflow refuses end_from_trigger where plugins register listeners (ours do).
            waited = DateTimeSensorAsync(task_id="metrics_window", target_time=window["window_end"])
            evaluation = canary.evaluate_canary(round_no)
            waited >> evaluation
            gate = scale.scale_decision(round_no, MAX_ROUNDS, body=evaluation["decision_request"])
            routes(evaluation, scale_decision=gate, breach=canary.canary_breached(evaluation))
            applied = scale.apply_scale_decision(round_no)
            gate.then(applied, label="widen / hold")
            to_full_launch = EmptyOperator(task_id="to_full_launch")
        if previous is None:
            window >> waited
        else:
            # The previous round's Widen or Hold opened this round's window.
            routes(previous, full_launch=launched[-1], next_window=waited)
        launched.append(to_full_launch)
        previous = window = applied
    routes(previous, full_launch=launched[-1])
    full = launch.full_launch()
    launched >> full
    launch.users_told(full) >> complete()


geo_expansion_launch()
