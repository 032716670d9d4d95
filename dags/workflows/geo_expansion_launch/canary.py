"""The canary: the market enabled behind its feature flag for the plan's first share of users, then, in each
round, a metrics window (a date wait holding nothing) and the canary's figures against the guardrails.

Undos, in the order compensation meets them (newest first): the flag off (the canary rolled back), each user
who saw the market told once that the early access ended, the market disabled.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, routed_step, step
from execution_plane.saga.compensations import compensation
from workflows.geo_expansion_launch.common import open_window, plan_of, record_ending, round_window

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)


@step
def enable_canary(run: Run, provisioned: dict[str, Any]) -> dict[str, Any]:
    """The market enabled (its tenant live), its canary cohort registered with the product metrics, its flag
    on for the plan's first share of the market's users; round 1's metrics window opens."""
    from execution_plane.hooks.flags import FlagsHook
    from execution_plane.hooks.infra import InfraHook
    from execution_plane.hooks.metrics import MetricsHook
    from execution_plane.saga.compensations import Compensation

    plan = plan_of(run)
    flag_key = plan.flag_key(run.request_id)
    tenant_id = provisioned["tenant_id"]
    share = plan.canary_pct
    with run.saga as saga:
        with InfraHook() as infra, FlagsHook() as flags, MetricsHook() as metrics:
            saga.call(
                "market.enabled",
                side_effect="infra.enable_tenant",
                request={"tenant_id": tenant_id},
                call=lambda key: infra.enable_tenant(tenant_id, idempotency_key=key),
                compensation=Compensation(
                    "geo_expansion_launch.disable_market", {"tenant_id": tenant_id, "market": plan.market}
                ),
            )
            saga.call(
                "metrics.cohort",
                side_effect="metrics.create_cohort",
                request={"flag_key": flag_key},
                call=lambda key: metrics.create_cohort(
                    flag_key,
                    market=plan.market,
                    flag_key=flag_key,
                    description=f"Canary of the {plan.market_name} launch ({saga.workflow_id})",
                    idempotency_key=key,
                ),
            )
            saga.call(
                "flag.created",
                side_effect="flags.create_flag",
                request={"flag_key": flag_key},
                call=lambda key: flags.create_flag(
                    flag_key,
                    description=f"{plan.market_name} launch ({saga.workflow_id}): market {plan.market}",
                    idempotency_key=key,
                ),
            )

            # Recorded before the flag goes on, so compensation (newest first) turns the flag off first and
            # tells the users who saw the market afterwards: nobody sees it again after being told.
            def exposure_record(cur: Any) -> dict[str, Any]:
                cur.execute(
                    "UPDATE geo_launches SET stage = 'market_enabled', updated_at = now()"
                    " WHERE workflow_id = %s",
                    (saga.workflow_id,),
                )
                return {"flag_key": flag_key, "market": plan.market}

            saga.db_write(
                "users_exposure",
                exposure_record,
                request={"flag_key": flag_key},
                compensation=Compensation(
                    "geo_expansion_launch.notify_exposed_users", {"flag_key": flag_key, "market": plan.market}
                ),
            )
            saga.call(
                "flag.canary",
                side_effect="flags.set_rollout",
                request={"flag_key": flag_key, "market": plan.market, "rollout_pct": share},
                call=lambda key: flags.set_rollout(
                    flag_key, plan.market, enabled=True, rollout_pct=share, idempotency_key=key
                ),
                compensation=Compensation(
                    "geo_expansion_launch.flag_off", {"flag_key": flag_key, "market": plan.market}
                ),
            )
        window = open_window(run, saga, 1, share)
    log.info(
        "%s canary on for %s%% of %s, window until %s", flag_key, share, plan.market, window["window_end"]
    )
    return window


@compensation("geo_expansion_launch.flag_off")
def flag_off(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Roll back the canary: the market's launch flag off, for every user of the market."""
    from execution_plane.hooks.flags import FlagsHook

    with FlagsHook() as hook:
        result = hook.set_rollout(
            args["flag_key"], args["market"], enabled=False, rollout_pct=0, idempotency_key=key
        )
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE geo_launches SET share_pct = 0, updated_at = now() WHERE workflow_id = %s",
            (saga.workflow_id,),
        )
    return result


@compensation("geo_expansion_launch.notify_exposed_users")
def notify_exposed_users(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Tell each user who saw the market (the flag's exposures), once, that the early access ended.

    One campaign per launch, which the notification platform sends to a user at most once."""
    from execution_plane.hooks.flags import FlagsHook
    from execution_plane.hooks.notify import NotifyHook
    from workflows.geo_expansion_launch.domain import LaunchPlan, users_rollback_notice

    with FlagsHook() as flags:
        users = flags.exposures(args["flag_key"], args["market"])
    if not users:
        return {"notified": 0, "recipients": 0, "note": "nobody saw the market"}
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute("SELECT plan FROM geo_launches WHERE workflow_id = %s", (saga.workflow_id,))
        plan = LaunchPlan.model_validate(cur.fetchone()[0])
    message = users_rollback_notice(plan)
    with NotifyHook() as hook:
        sent = hook.notify(
            key,
            user_ids=users,
            title=message.subject,
            body=message.body,
            template="geo_early_access_ended",
            idempotency_key=key,
        )
    return {"campaign_id": key, "recipients": sent["recipients"], "notified": sent["notified"]}


@compensation("geo_expansion_launch.disable_market")
def disable_market(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Disable the market: its tenant stops serving (the launch flag is already off)."""
    from execution_plane.hooks.infra import InfraHook

    with InfraHook() as hook:
        return hook.disable_tenant(args["tenant_id"], idempotency_key=key)


@routed_step
def evaluate_canary(run: Run, round_no: int) -> dict[str, Any]:
    """The canary's figures over the window against the guardrails; ``next``: ``breach`` (rolls back by
    itself) or ``scale_decision`` (a pass, or too few users to judge: the launch lead decides)."""
    from execution_plane.hooks.metrics import MetricsHook
    from workflows.geo_expansion_launch.domain import (
        CanaryFigures,
        Guardrails,
        scale_decision_request,
    )
    from workflows.geo_expansion_launch.domain import evaluate_canary as judge
    from workflows.geo_expansion_launch.scale import choices_for_round

    plan = plan_of(run)
    flag_key = plan.flag_key(run.request_id)
    window = round_window(run, round_no)
    with MetricsHook() as hook:
        summary = hook.cohort_summary(flag_key, start=window["window_start"], end=window["window_end"])
    evaluation = judge(
        CanaryFigures.model_validate(summary), Guardrails.model_validate(run.params["guardrails"])
    )
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE geo_rollout_rounds SET figures = %s::jsonb, verdict = %s, summary = %s,"
                " updated_at = now()"
                " WHERE workflow_id = %s AND round = %s",
                (json.dumps(summary), evaluation.verdict, evaluation.summary(), saga.workflow_id, round_no),
            )
            return {
                "verdict": evaluation.verdict,
                "summary": evaluation.summary(),
                "figures": summary,
            }

        # Judged once per round: a retry replays the verdict the round was first given.
        recorded = saga.db_write(f"evaluation.r{round_no}", write, request={"round": round_no})
    options = choices_for_round(round_no)
    log.info("round %s of %s: %s", round_no, saga.workflow_id, recorded["summary"])
    return {
        "next": "breach" if recorded["verdict"] == "breach" else "scale_decision",
        **window,
        "verdict": recorded["verdict"],
        "summary": recorded["summary"],
        "decision_request": scale_decision_request(
            plan, round_no, int(window["share_pct"]), recorded["summary"], options
        ),
    }


@step
def canary_breached(run: Run, evaluation: dict[str, Any]) -> None:
    """A guardrail breached: the launch rolls back by itself (it ends failed; compensation turns the flag
    off)."""
    reason = (
        f"canary breached its guardrails in round {evaluation['round']} at {evaluation['share_pct']}%"
        " of users: "
        f"{evaluation['summary'].removeprefix('guardrail breached: ')}; rolled back automatically"
    )
    record_ending(run, "rolled_back", f"round_{evaluation['round']}", reason)
    run.end_badly("failed", reason)
