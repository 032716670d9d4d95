"""Market readiness: the launch recorded, then the launch team's checklist judged before anything outside is
asked for. A market that is not ready ends the launch (rejected) with every failed check in the reason."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, routed_step, step
from execution_plane.saga.compensations import compensation
from workflows.geo_expansion_launch.common import ENDED_STATUSES, plan_of

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)


@routed_step
def market_readiness(run: Run) -> dict[str, Any]:
    """Register the workflow, record the launch and its plan, judge the checklist; ``next``: ``ready`` or
    ``not_ready``. Returns the partners (what the contracts are mapped over) and the flag key."""
    from execution_plane.saga.compensations import Compensation
    from workflows.geo_expansion_launch.domain import ReadinessChecklist, assess_readiness

    plan = plan_of(run)
    report = assess_readiness(plan, ReadinessChecklist.model_validate(run.params["readiness"]))
    flag_key = plan.flag_key(run.request_id)
    with run.saga as saga:
        saga.register()

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "INSERT INTO geo_launches (workflow_id, market, market_name, region, currency, flag_key,"
                " plan, readiness, stage, status) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb,"
                " 'readiness', %s) ON CONFLICT (workflow_id) DO NOTHING",
                (
                    saga.workflow_id,
                    plan.market,
                    plan.market_name,
                    plan.region,
                    plan.currency,
                    flag_key,
                    plan.model_dump_json(),
                    report.model_dump_json(),
                    "planning" if report.ready else "not_ready",
                ),
            )
            cur.executemany(
                "INSERT INTO geo_launch_partners (workflow_id, partner_id, deal_id, name, status)"
                " VALUES (%s, %s, %s, %s, 'pending') ON CONFLICT DO NOTHING",
                [(saga.workflow_id, p.partner_id, p.deal_id, p.name) for p in plan.partners],
            )
            return {"ready": report.ready, "reason": report.reason()}

        recorded = saga.db_write(
            "launch_record",
            write,
            request={"plan": json.loads(plan.model_dump_json()), "readiness": run.params["readiness"]},
            compensation=Compensation("geo_expansion_launch.close_record", {}),
        )
    log.info("readiness of %s: %s", plan.market, recorded["reason"])
    return {
        "next": "ready" if recorded["ready"] else "not_ready",
        "reason": recorded["reason"],
        "flag_key": flag_key,
        "partners": [partner.model_dump(mode="json") for partner in plan.partners],
    }


@step
def not_ready(run: Run, readiness: dict[str, Any]) -> None:
    """The checklist failed: the launch ends rejected, nothing outside was asked for."""
    run.end_badly("rejected", readiness["reason"])


@compensation("geo_expansion_launch.close_record")
def close_record(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Close the launch record: an ending already written stays, a launch in progress ends failed.

    The ending written before compensation started (not ready, refused, declined, expired, rolled back) is
    kept; only a launch a failed step left in progress is marked failed, with the reason."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE geo_launches SET status = 'failed', stage = 'compensated', reason = %s,"
            " updated_at = now()"
            " WHERE workflow_id = %s AND status <> ALL(%s)",
            (reason[:2000], saga.workflow_id, list(ENDED_STATUSES)),
        )
        cur.execute(
            "UPDATE geo_launches SET stage = 'compensated', updated_at = now() WHERE workflow_id = %s",
            (saga.workflow_id,),
        )
        cur.execute("SELECT status FROM geo_launches WHERE workflow_id = %s", (saga.workflow_id,))
        row = cur.fetchone()
    return {"launch_status": row[0] if row else None}
