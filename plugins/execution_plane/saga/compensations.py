"""Registered compensation actions: the undo of each kind of side effect.

A ledger row names its undo by action name + JSON args, so compensation can run anywhere, days later,
from the ledger alone. Each undo receives its own idempotency key (derived from the step it undoes), so a
re-run of the compensation replays instead of undoing twice. Workflow-specific undos register here too,
next to the step they undo, through ``@compensation``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from execution_plane.saga.errors import UnknownCompensation

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

Undo = Callable[["Saga", dict[str, Any], str, str], dict[str, Any]]
REGISTRY: dict[str, Undo] = {}


def compensation(name: str) -> Callable[[Undo], Undo]:
    def register(fn: Undo) -> Undo:
        if name in REGISTRY and REGISTRY[name] is not fn:
            raise ValueError(f"compensation {name!r} registered twice")
        REGISTRY[name] = fn
        return fn

    return register


def _register_workflow_undos() -> None:
    import importlib
    import pkgutil

    import execution_plane.workflows as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")


def get(name: str) -> Undo:
    if name not in REGISTRY:
        _register_workflow_undos()
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownCompensation(f"no compensation registered as {name!r}") from None


@compensation("esign.void_envelope")
def void_envelope(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    from execution_plane.hooks.esign import EsignHook

    hook = EsignHook()
    try:
        return hook.void_envelope(args["envelope_id"], reason=reason, idempotency_key=key)
    finally:
        hook.close()


@compensation("docstore.retract")
def retract_document(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Content-addressed bytes may be shared: keep them while another live workflow still holds them."""
    from execution_plane.hooks.docstore import DocstoreHook

    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT s.workflow_id FROM saga_steps s JOIN saga_workflows w USING (workflow_id)"
            " WHERE s.compensation_action = 'docstore.retract' AND s.compensation_args->>'sha256' = %s"
            " AND s.status = 'done' AND s.workflow_id <> %s AND w.status IN ('running', 'completed')",
            (args["sha256"], saga.workflow_id),
        )
        holders = [row[0] for row in cur.fetchall()]
    if holders:
        return {"kept": args["sha256"], "still_used_by": holders}

    hook = DocstoreHook()
    try:
        return hook.retract(args["sha256"], reason=reason, idempotency_key=key)
    finally:
        hook.close()


@compensation("docstore.archive_room")
def archive_room(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    from execution_plane.hooks.docstore import DocstoreHook

    hook = DocstoreHook()
    try:
        return hook.archive_room(args["room_id"], reason=reason, idempotency_key=key)
    finally:
        hook.close()


@compensation("crm.set_partner_status")
def set_partner_status(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    from execution_plane.hooks.crm import CrmHook

    hook = CrmHook()
    try:
        return hook.update_partner(
            args["partner_id"], status=args["status"], fields={"status_reason": reason}, idempotency_key=key
        )
    finally:
        hook.close()


@compensation("crm.set_deal_status")
def set_deal_status(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    from execution_plane.hooks.crm import CrmHook

    hook = CrmHook()
    try:
        return hook.update_deal(
            args["deal_id"], status=args["status"], fields={"status_reason": reason}, idempotency_key=key
        )
    finally:
        hook.close()


@compensation("message.notify")
def notify(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """The undo of having told someone something: tell them it is off (e.g. a rejection notice)."""
    from execution_plane.hooks.messaging import MessagingHook

    body = args["body"].replace("{reason}", reason)
    hook = MessagingHook(args["channel"])
    try:
        sent = hook.send(
            to=args["to"],
            body=body,
            message_id=key,
            subject=args.get("subject"),
            template=args.get("template", "notice"),
        )
    finally:
        hook.close()
    return {"message_id": key, "provider_message_id": sent.get("provider_message_id")}
