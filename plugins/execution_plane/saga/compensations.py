"""Registered compensation actions: the undo of each kind of side effect.

A ledger row names its undo by action name + JSON args, so compensation can run anywhere, days later,
from the ledger alone. Each undo receives its own idempotency key (derived from the step it undoes), so a
re-run of the compensation replays instead of undoing twice.

The undos of outside systems the toolkit reaches (eSign, documents, CRM, messages) are registered here. A
workflow registers its own with ``@compensation`` next to the step it undoes, when its package is
imported: the toolkit never imports a workflow (the compensation DAG imports them all first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from execution_plane.saga.errors import UnknownCompensation

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga


@dataclass(frozen=True)
class Compensation:
    """How to undo a step: a registered action name and JSON arguments; a step records it in the ledger."""

    action: str
    args: dict[str, Any] = field(default_factory=dict)


Undo = Callable[["Saga", dict[str, Any], str, str], dict[str, Any]]
REGISTRY: dict[str, Undo] = {}


def compensation(name: str) -> Callable[[Undo], Undo]:
    def register(fn: Undo) -> Undo:
        if name in REGISTRY and REGISTRY[name] is not fn:
            raise ValueError(f"compensation {name!r} registered twice")
        REGISTRY[name] = fn
        return fn

    return register


def get(name: str) -> Undo:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownCompensation(
            f"no compensation registered as {name!r} (is the package of the workflow that recorded it "
            "imported?)"
        ) from None


@compensation("esign.void_envelope")
def void_envelope(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Void the eSign envelope: it can no longer be signed."""
    from execution_plane.hooks.esign import EsignHook

    with EsignHook() as hook:
        return hook.void_envelope(args["envelope_id"], reason=reason, idempotency_key=key)


@compensation("docstore.retract")
def retract_document(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Retract the document from storage (content-addressed bytes are shared: kept while another live
    workflow still holds them)."""
    from execution_plane.hooks.docstore import DocstoreHook

    holders = saga.live_holders("docstore.retract", sha256=args["sha256"])
    if holders:
        return {"kept": args["sha256"], "still_used_by": holders}

    with DocstoreHook() as hook:
        return hook.retract(args["sha256"], reason=reason, idempotency_key=key)


@compensation("docstore.archive_room")
def archive_room(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Archive the data room: closed to uploads, kept as the record."""
    from execution_plane.hooks.docstore import DocstoreHook

    with DocstoreHook() as hook:
        return hook.archive_room(args["room_id"], reason=reason, idempotency_key=key)


@compensation("crm.set_partner_status")
def set_partner_status(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Set the partner's CRM status back (e.g. rejected), with the reason."""
    from execution_plane.hooks.crm import CrmHook

    with CrmHook() as hook:
        return hook.update_partner(
            args["partner_id"], status=args["status"], fields={"status_reason": reason}, idempotency_key=key
        )


@compensation("crm.set_deal_status")
def set_deal_status(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Set the deal's CRM status back (e.g. out of due diligence), with the reason."""
    from execution_plane.hooks.crm import CrmHook

    with CrmHook() as hook:
        return hook.update_deal(
            args["deal_id"], status=args["status"], fields={"status_reason": reason}, idempotency_key=key
        )


@compensation("message.notify")
def notify(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """The undo of having told someone something: tell them it is off (e.g. a rejection notice)."""
    from execution_plane.hooks.messaging import MessagingHook

    body = args["body"].replace("{reason}", reason)
    with MessagingHook(args["channel"]) as hook:
        sent = hook.send(
            to=args["to"],
            body=body,
            message_id=key,
            subject=args.get("subject"),
            template=args.get("template", "notice"),
        )
    return {"message_id": key, "provider_message_id": sent.get("provider_message_id")}


@compensation("workflow.compensate_child")
def compensate_child(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """The undo of having started a child workflow (execution_plane.durable.children): the child undoes its
    own effects, in its own order, through its own compensation (a second ask is a 409), and its run stops.
    A child that completed is kept: what it committed to is not the parent's to erase."""
    from execution_plane.saga import ledger
    from execution_plane.saga.airflow_api import AirflowApi, start_compensation

    child = args["workflow_id"]
    with saga.conn() as conn, conn.cursor() as cur:
        row = ledger.workflow_row(cur, child)
    status = row["status"] if row else None
    if status == "completed":
        return {"child": child, "kept": "the child completed"}
    api = AirflowApi()
    stopped = api.end_run(args["dag_id"], args["run_id"]) if status in (None, "running") else False
    if status in ("compensating", "compensated"):
        return {"child": child, "status": status, "run_stopped": stopped}
    if status is None:
        return {"child": child, "status": "never registered", "run_stopped": stopped}
    asked = start_compensation(
        child,
        reason=f"parent {saga.workflow_id} compensated: {reason}"[:2000],
        bad_ending=status if status in ledger.BAD_ENDINGS else "failed",
        source=f"parent:{saga.workflow_id}",
        api=api,
    )
    return {"child": child, "status": status, "compensation_started": asked, "run_stopped": stopped}
