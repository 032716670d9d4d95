"""Waits on outside systems that hold nothing: a worker defers, the triggerer's shared listener waits.

The wait ends its task without a worker (``end_task``): the ingress that stores the event ends it at once
(``execution_plane.webhooks.resume``, through the wait registered by correlation key), and the trigger ends
it when the ingress could not (an event filed by a poller, a crash between the two); either way the outcome
is the same XCom (``return_value`` and ``event``).

    sent = send_terms(profile, sheet, 1)
    answer = wait_for_event("partner_response", correlation_key=sent["correlation_key"],
                            event_types=["partner.accepted"], timeout_at=sent["respond_by"])

The step that starts the wait returns its correlation key (made by ``saga.keys.correlation_key``) and its
deadline, fixed once when the wait began; the wait takes both from that step's output, so neither is
written twice. The outcome (``answer.output``) is ``{"status": "received", "event": {...}}`` or
``{"status": "expired", ...}``: a routed step decides what it means.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from execution_plane.sensors.external_event import ExternalEventSensor


def wait_for_event(
    task_id: str,
    *,
    correlation_key: Any,
    event_types: Sequence[str],
    timeout_at: Any,
    **sensor_kwargs: Any,
) -> ExternalEventSensor:
    """Wait for the first event of ``correlation_key`` of one of ``event_types``, until ``timeout_at``."""
    sensor_kwargs.setdefault("end_task", True)
    return ExternalEventSensor(
        task_id=task_id,
        correlation_key=correlation_key,
        event_types=list(event_types),
        timeout_at=timeout_at,
        **sensor_kwargs,
    )
