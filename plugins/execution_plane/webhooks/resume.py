"""End the tasks waiting for an event as soon as the ingress stored it, without waiting for the triggerer.

The ingress runs inside the Airflow API server. Once an event is committed to the inbox, the waits it
matches (``execution_plane.event_waits``) are ended here, each in one transaction of Airflow's database,
as Airflow's own API server ends a Human-in-the-loop task when its answer comes (``PATCH .../hitlDetails``):
the task instance row is locked, still deferred is checked, and ``handle_event_submit`` applies the
trigger's end event (``TaskSuccessEvent`` with the outcome as XCom ``return_value`` and the wait's key).
The task is ended within milliseconds of the event; the triggerer hands events over on a ~1 s loop.

The trigger stays in place as the fallback: if this fails or never runs (the API server dies between the
two commits, Airflow's database is briefly unavailable), the trigger's LISTEN hears the same event and
ends the task as before. Both compute the same outcome (the oldest matching event of the wait's window),
and whichever comes second finds the task instance no longer deferred on that trigger and does nothing.
Nothing here is allowed to fail a delivery: the event is already stored and acknowledged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from execution_plane import event_waits, telemetry
from execution_plane.webhooks import db

log = logging.getLogger(__name__)

TRIGGER_CLASSPATH = "execution_plane.triggers.external_event.ExternalEventTrigger"


def end_waiting_tasks(correlation_key: str, event_type: str) -> int:
    """End the deferred tasks an event of ``event_type`` for ``correlation_key`` ends; how many were ended."""
    try:
        waits = db.run_in_transaction(lambda cur: event_waits.waits_for(cur, correlation_key, event_type))
    except Exception:
        log.exception("could not look up the waits of %r; their triggers will end them", correlation_key)
        return 0
    ended = 0
    finished: list[Any] = []
    for wait in waits:
        try:
            result = _end(wait)
        except Exception:
            log.exception(
                "could not end %s.%s of %s; its trigger will", wait.dag_id, wait.task_id, wait.run_id
            )
            continue
        if result != "waiting":
            finished.append(wait.ti_id)
        ended += result == "ended"
    if finished:
        try:
            db.run_in_transaction(lambda cur: event_waits.forget(cur, finished))
        except Exception:
            log.exception("could not forget the ended waits of %r (pruned later)", correlation_key)
    return ended


def _end(wait: event_waits.RegisteredWait) -> str:
    """``ended``; ``gone`` (no longer deferred on its trigger: ended already, cleared, retried); ``waiting``
    (not deferred yet, or the event is outside its window: the trigger decides)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import handle_event_submit
    from airflow.triggers.base import TaskSuccessEvent
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    from execution_plane.compat import trigger_xcoms

    with create_session() as session:
        # Locked as the HITL answer route locks it: a trigger event, a clear or a second delivery handled in
        # another thread waits for this transaction and then sees the task no longer deferred.
        ti = session.scalars(
            select(TaskInstance).where(TaskInstance.id == str(wait.ti_id)).with_for_update()
        ).one_or_none()
        if ti is None:
            return "gone"
        if ti.state != TaskInstanceState.DEFERRED:
            return "waiting" if ti.state in _NOT_DEFERRED_YET else "gone"
        if ti.trigger is None or ti.trigger.classpath != TRIGGER_CLASSPATH:
            return "gone"
        event = db.run_in_transaction(lambda cur: event_waits.first_event(cur, wait))
        if event is None:
            return "waiting"
        outcome: dict[str, Any] = {"status": "received", "event": event}
        trigger_xcoms.install()  # the outcome reaches the next task as a value, not its JSON text
        handle_event_submit(
            TaskSuccessEvent(xcoms={wait.xcom_key: outcome, "return_value": outcome}),
            task_instance=ti,
            session=session,
        )
        parked_since = ti.start_date
    telemetry.incr("wait.resumed", kind="event", outcome="received", by="ingress", workflow=wait.dag_id)
    if parked_since is not None:
        telemetry.timing(
            "wait.duration", datetime.now(UTC) - parked_since, kind="event", workflow=wait.dag_id
        )
    log.info(
        "event wait ended by the ingress: %s.%s run=%s key=%r event=%s",
        wait.dag_id,
        wait.task_id,
        wait.run_id,
        wait.correlation_key,
        event["event_id"],
    )
    return "ended"


# States a registered wait's task instance passes through before it is deferred (the sensor registers its
# wait, then defers): the row must stay for the next event.
_NOT_DEFERRED_YET = frozenset({"running", "queued", "scheduled", "up_for_retry", "up_for_reschedule"})
