"""An outside party settles one of its pending resources and tells us by webhook, as the sandbox's control
routes play it (the bank a mandate, the registry a parent change, the payout provider a profile).

The resource moves from its waiting status to the target once; acting again with the same target changes
nothing and redelivers the same event (a provider's retry), any other move is a 409 ``invalid_transition``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi import Request

from include.sandbox.provider import ProviderError
from include.sandbox.state import SandboxState, utc_now_iso
from include.sandbox.webhooks import WebhookDispatcher, dispatch

Resource = dict[str, Any]


def settle_and_tell(
    request: Request,
    *,
    key: str,
    noun: str,
    resource_id: str,
    get: Callable[[Any], Resource],
    waiting: str,
    action: str,
    target: str,
    refused: str,
    reason: str,
    event_of: Callable[[Resource], dict[str, Any]],
    events_path: str,
    deliver: bool,
    wait: bool,
) -> dict[str, Any]:
    """Move the resource ``get(resources)`` from ``waiting`` to ``target`` (``reason`` kept when ``target`` is
    ``refused``), then deliver ``event_of(resource)`` to ``events_path`` unless ``deliver`` is false. The
    answer holds the resource under ``key``, and the deliveries."""
    state: SandboxState = request.app.state.sandbox
    with state.transaction() as resources:
        resource = get(resources)
        if resource["status"] != target:
            if resource["status"] != waiting:
                raise ProviderError(
                    409,
                    "invalid_transition",
                    f"cannot {action} a {noun} that is {resource['status']}",
                    id=resource_id,
                    status=resource["status"],
                )
            resource.update({"status": target, f"{target}_at": utc_now_iso()})
            if target == refused:
                resource["reason"] = reason
        event = event_of(resource)
        snapshot = copy.deepcopy(resource)
    if not deliver:
        return {key: snapshot, "event": event, "queued": 0, "deliveries": []}
    dispatcher: WebhookDispatcher = request.app.state.webhooks
    return {key: snapshot, **dispatch(dispatcher, events_path, state.config.events_secret, event, wait=wait)}
