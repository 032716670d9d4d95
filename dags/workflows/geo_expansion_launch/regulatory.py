"""Regulatory approval: the market-entry filing at the regulator's portal, then the regulator's decision (a
signed webhook, weeks later; a lost one is found by reading the filing when the wait runs out)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, routed_step, step
from execution_plane.saga.compensations import compensation
from workflows.geo_expansion_launch.common import APPLICANT, FILING_KIND, deadline, plan_of, record_ending

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)


@step
def file_market_entry(run: Run, readiness: dict[str, Any]) -> dict[str, Any]:
    """File the market entry once; the decision is due ``regulatory_timeout_hours`` from now (fixed once)."""
    from execution_plane.hooks.regulator import RegulatorHook
    from execution_plane.saga.compensations import Compensation
    from workflows.geo_expansion_launch.domain import filing_summary

    plan = plan_of(run)
    correlation_key = run.correlation_key("regulator")
    with run.saga as saga:
        with RegulatorHook() as hook:
            filed = saga.call(
                "regulatory_filing",
                side_effect="regulator.submit_filing",
                request={"kind": FILING_KIND, "subject": plan.market, "region": plan.region},
                call=lambda key: hook.submit_filing(
                    kind=FILING_KIND,
                    subject=plan.market,
                    jurisdiction=plan.market,
                    applicant=APPLICANT,
                    summary=filing_summary(plan),
                    correlation_key=correlation_key,
                    idempotency_key=key,
                    details={
                        "region": plan.region,
                        "data_country": plan.region_country,
                        "partners": [p.partner_id for p in plan.partners],
                        "rollout_steps_pct": list(plan.rollout_steps_pct),
                        "readiness": readiness["reason"],
                    },
                ),
                compensation=lambda r: Compensation(
                    "geo_expansion_launch.withdraw_filing", {"filing_id": r["filing_id"]}
                ),
            )

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE geo_launches SET filing_id = %s, filing_reference = %s, status = 'regulatory_review',"
                " stage = 'regulatory_approval', updated_at = now() WHERE workflow_id = %s",
                (filed["filing_id"], filed["reference"], saga.workflow_id),
            )
            return {"decide_by": deadline(cur, run.params["regulatory_timeout_hours"])}

        recorded = saga.db_write("regulatory_filing_record", write, request={"filing_id": filed["filing_id"]})
    log.info("market entry of %s filed: %s (%s)", plan.market, filed["reference"], filed["filing_id"])
    return {
        "filing_id": filed["filing_id"],
        "reference": filed["reference"],
        "correlation_key": correlation_key,
        "decide_by": recorded["decide_by"],
    }


@compensation("geo_expansion_launch.withdraw_filing")
def withdraw_filing(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Withdraw the market-entry filing (a refused one is a closed case: nothing left to withdraw).

    Nothing stays pending before the regulator for a launch that does not happen."""
    from execution_plane.hooks.regulator import RegulatorHook

    with RegulatorHook() as hook:
        return hook.withdraw_filing(args["filing_id"], reason=reason[:2000], idempotency_key=key)


@routed_step
def route_regulatory_decision(run: Run, outcome: dict[str, Any], filed: dict[str, Any]) -> dict[str, Any]:
    """Record the regulator's decision; ``next``: ``cleared`` (with or without conditions), ``refused`` or
    ``expired``. When the wait ran out, the filing is read once: a decision whose webhook was lost counts."""
    status, event_id, conditions, detail = _decision(outcome, filed)
    next_step = {"cleared": "cleared", "cleared_with_conditions": "cleared", "refused": "refused"}.get(
        status, "expired"
    )
    reason = {
        "cleared": f"regulator cleared the market entry ({filed['reference']})",
        "refused": f"regulator refused the market entry ({filed['reference']}):"
        f" {detail or 'no reason given'}",
        "expired": f"no regulatory decision on {filed['reference']} by {filed['decide_by']}",
    }[next_step]
    if status == "cleared_with_conditions":
        reason = f"regulator cleared the market entry ({filed['reference']}) on conditions: " + "; ".join(
            conditions
        )
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            import json

            cur.execute(
                "UPDATE geo_launches SET regulator_decision = %s, regulator_conditions = %s::jsonb,"
                " updated_at = now() WHERE workflow_id = %s",
                (status, json.dumps(conditions), saga.workflow_id),
            )
            return {"next": next_step, "reason": reason, "conditions": conditions, "decision": status}

        return saga.db_write("regulatory_decision", write, request={"decision": status, "event_id": event_id})


def _decision(
    outcome: dict[str, Any], filed: dict[str, Any]
) -> tuple[str, str | None, list[str], str | None]:
    """(decision, event id, conditions, reason) from the webhook, or from the portal when the wait ran out."""
    if outcome.get("status") == "received":
        event = outcome["event"]
        body = event.get("payload") or {}
        payload = dict(body.get("payload") or {}) if isinstance(body, dict) else {}
        status = str(event["event_type"]).removeprefix("filing.")
        return status, event.get("event_id"), list(payload.get("conditions") or []), payload.get("reason")
    from execution_plane.hooks.regulator import DECISIONS, RegulatorHook

    with RegulatorHook() as hook:
        filing = hook.get_filing(filed["filing_id"])
    if filing.get("status") in DECISIONS:
        log.warning("filing %s is %s but no webhook said so", filed["filing_id"], filing["status"])
        return (
            str(filing["status"]),
            f"poll:{filed['filing_id']}:{filing['status']}",
            list(filing.get("conditions") or []),
            filing.get("decision_reason"),
        )
    return "none", None, [], None


@step
def regulatory_ended(run: Run, decision: dict[str, Any]) -> None:
    """Refused or no decision in time: the launch record says so, the launch ends and is compensated."""
    refused = decision["next"] == "refused"
    record_ending(run, "refused" if refused else "expired", "regulatory_approval", decision["reason"])
    run.end_badly("rejected" if refused else "expired", decision["reason"])
