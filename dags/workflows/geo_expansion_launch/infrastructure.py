"""Infrastructure provisioned: the market's region (asynchronous at the provider: it calls back when ready),
then its tenant, payment account and messaging number; each an idempotent provider call recorded with the
undo that removes it, so compensation deprovisions exactly what was provisioned, newest first."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, step
from execution_plane.saga.compensations import compensation
from workflows.geo_expansion_launch.common import deadline, plan_of, record_ending, set_status

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)

MESSAGING_CHANNELS = ["sms", "whatsapp"]


def _record_resource(saga: Saga, kind: str, resource_id: str, status: str, details: dict[str, Any]) -> None:
    import json

    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO geo_launch_resources (workflow_id, kind, resource_id, status, details)"
            " VALUES (%s, %s, %s, %s, %s::jsonb) ON CONFLICT (workflow_id, kind) DO UPDATE SET"
            " resource_id = EXCLUDED.resource_id, status = EXCLUDED.status, details = EXCLUDED.details,"
            " updated_at = now()",
            (saga.workflow_id, kind, resource_id, status, json.dumps(details)),
        )


@step
def provision_region(run: Run, contracts: Any) -> dict[str, Any]:
    """Ask for the market's region deployment (once); it is ready when the provider calls back, by
    ``provisioning_timeout_hours`` from now (fixed once). ``contracts``: every contract is signed."""
    from execution_plane.hooks.infra import InfraHook
    from execution_plane.saga.compensations import Compensation

    plan = plan_of(run)
    correlation_key = run.correlation_key("region")
    with run.saga as saga:
        set_status(saga, "provisioning", "infrastructure")
        with InfraHook() as hook:
            region = saga.call(
                "infra.region",
                side_effect="infra.provision_region",
                request={"market": plan.market, "region": plan.region},
                call=lambda key: hook.provision_region(
                    market=plan.market,
                    region=plan.region,
                    correlation_key=correlation_key,
                    idempotency_key=key,
                ),
                compensation=lambda r: Compensation(
                    "geo_expansion_launch.deprovision", {"kind": "region", "resource_id": r["region_id"]}
                ),
            )
        _record_resource(saga, "region", region["region_id"], "provisioning", {"region": plan.region})

        def write(cur: Any) -> dict[str, Any]:
            return {"ready_by": deadline(cur, run.params["provisioning_timeout_hours"])}

        due = saga.db_write("infra.region_due", write, request={"region_id": region["region_id"]})
    return {"region_id": region["region_id"], "correlation_key": correlation_key, "ready_by": due["ready_by"]}


@step
def provision_market(run: Run, outcome: dict[str, Any], region: dict[str, Any]) -> dict[str, Any]:
    """Once the region is ready (its callback, or the provider's word when the wait ran out): the market's
    tenant, payment account and messaging number, each once. A region that failed or never came up fails
    the launch (compensation deprovisions what was provisioned)."""
    from execution_plane.hooks.infra import InfraHook
    from execution_plane.saga.compensations import Compensation

    plan = plan_of(run)
    region_id = region["region_id"]
    with InfraHook() as hook:
        status, why = _region_status(hook, outcome, region_id)
        if status != "ready":
            reason = f"region {plan.region} for {plan.market} {why}"
            with run.saga as saga:
                _record_resource(saga, "region", region_id, "failed", {"region": plan.region, "reason": why})
            record_ending(run, "failed", "infrastructure", reason)
            run.end_badly("failed", reason)
        with run.saga as saga:
            _record_resource(saga, "region", region_id, "ready", {"region": plan.region})

            def undo(kind: str, id_field: str) -> Any:
                return lambda r: Compensation(
                    "geo_expansion_launch.deprovision", {"kind": kind, "resource_id": r[id_field]}
                )

            tenant = saga.call(
                "infra.tenant",
                side_effect="infra.create_tenant",
                request={"region_id": region_id},
                call=lambda key: hook.create_tenant(
                    market=plan.market,
                    region_id=region_id,
                    name=f"{plan.market_name} ({plan.market})",
                    idempotency_key=key,
                ),
                compensation=undo("tenant", "tenant_id"),
            )
            _record_resource(saga, "tenant", tenant["tenant_id"], "active", {"region_id": region_id})
            account = saga.call(
                "infra.payment_account",
                side_effect="infra.open_payment_account",
                request={"tenant_id": tenant["tenant_id"], "currency": plan.currency},
                call=lambda key: hook.open_payment_account(
                    tenant_id=tenant["tenant_id"],
                    market=plan.market,
                    currency=plan.currency,
                    idempotency_key=key,
                ),
                compensation=undo("payment_account", "account_id"),
            )
            _record_resource(
                saga, "payment_account", account["account_id"], "active", {"currency": plan.currency}
            )
            number = saga.call(
                "infra.messaging_number",
                side_effect="infra.allocate_number",
                request={"tenant_id": tenant["tenant_id"], "channels": MESSAGING_CHANNELS},
                call=lambda key: hook.allocate_number(
                    tenant_id=tenant["tenant_id"],
                    market=plan.market,
                    channels=MESSAGING_CHANNELS,
                    idempotency_key=key,
                ),
                compensation=undo("messaging_number", "number_id"),
            )
            _record_resource(
                saga, "messaging_number", number["number_id"], "active", {"e164": number["e164"]}
            )
    return {
        "region_id": region_id,
        "tenant_id": tenant["tenant_id"],
        "account_id": account["account_id"],
        "number_id": number["number_id"],
        "e164": number["e164"],
    }


def _region_status(hook: Any, outcome: dict[str, Any], region_id: str) -> tuple[str, str]:
    if outcome.get("status") == "received":
        event = outcome["event"]
        body = event.get("payload") or {}
        payload = dict(body.get("payload") or {}) if isinstance(body, dict) else {}
        if event["event_type"] == "infra.region.ready":
            return "ready", "is ready"
        return "failed", f"failed to provision: {payload.get('reason') or 'no reason given'}"
    # The wait ran out: the provider's own word (a lost callback must not fail a ready region).
    found = hook.get_region(region_id)
    if found.get("status") == "ready":
        log.warning("region %s is ready but its callback never came", region_id)
        return "ready", "is ready"
    if found.get("status") == "failed":
        return "failed", f"failed to provision: {found.get('failure_reason') or 'no reason given'}"
    return str(found.get("status")), f"was not ready by {outcome.get('timeout_at')} ({found.get('status')})"


_REMOVE = {
    "messaging_number": "release_number",
    "payment_account": "close_payment_account",
    "tenant": "delete_tenant",
    "region": "deprovision_region",
}


@compensation("geo_expansion_launch.deprovision")
def deprovision(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Remove one provisioned resource (messaging number, payment account, tenant, region) at the provider.

    Compensation reaches them newest first, the order the provider's dependencies need."""
    from execution_plane.hooks.infra import InfraHook

    kind, resource_id = args["kind"], args["resource_id"]
    with InfraHook() as hook:
        removed = getattr(hook, _REMOVE[kind])(resource_id, idempotency_key=key)
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE geo_launch_resources SET status = 'removed', updated_at = now()"
            " WHERE workflow_id = %s AND kind = %s AND resource_id = %s",
            (saga.workflow_id, kind, resource_id),
        )
    return {"kind": kind, "resource_id": resource_id, **removed}
