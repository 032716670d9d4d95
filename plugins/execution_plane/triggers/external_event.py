"""Wait for an outside system's event (signature signed/declined, partner answer, filing accepted).

Events land in the business table ``external_events`` (webhook inbox). The trigger yields one outcome:

- ``{"status": "received", "event": {event_id, source, event_type, correlation_key, payload, received_at}}``
  for the oldest event of ``correlation_key`` with one of ``event_types``, received after
  ``after_received_at`` and not after ``timeout_at``;
- ``{"status": "expired", "timeout_at": ...}`` once ``timeout_at`` passed without one: expiry is an
  outcome the workflow branches on, not an error;
- ``{"status": "error", "message": ...}`` when it cannot wait at all (bad arguments, undefined connection).

Bounding the window by ``timeout_at`` makes the outcome the same however often the trigger runs (triggerer
restarts, redistribution): it only reads, never writes.

With ``end_task=True`` the trigger ends the task itself (``TaskSuccessEvent``, ``TaskFailedEvent`` on error)
and the triggerer pushes the outcome as XCom ``xcom_key`` and ``return_value``: no worker resumes the task.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TaskFailedEvent, TaskSuccessEvent, TriggerEvent

from execution_plane.triggers.listener import ListenerError, SharedEventListener

DEFAULT_CONN_ID = "execution_plane_db"


class ExternalEventTrigger(BaseTrigger):
    """Fire once for the first matching ``external_events`` row, or when ``timeout_at`` passes.

    Arguments stay as given (ISO strings, possibly Jinja templates the triggerer renders in place when the
    task starts from the trigger); they are parsed only in ``run()``.

    :param correlation_key: the run's business key the outside system echoes back.
    :param event_types: event types that end the wait (e.g. ``["envelope.completed", "envelope.declined"]``).
    :param timeout_at: ISO datetime after which the wait expires; None waits without a deadline.
    :param conn_id: Airflow connection of the business database.
    :param after_received_at: ISO datetime; only events received after it count (ignore stale events).
    :param end_task: end the task from the triggerer instead of resuming it on a worker.
    :param xcom_key: XCom key of the outcome when ``end_task`` is set.
    """

    def __init__(
        self,
        correlation_key: str,
        event_types: list[str],
        timeout_at: str | datetime | None = None,
        conn_id: str = DEFAULT_CONN_ID,
        after_received_at: str | datetime | None = None,
        end_task: bool = False,
        xcom_key: str = "event",
    ) -> None:
        super().__init__()
        self.correlation_key = correlation_key
        self.event_types = list(event_types)
        self.timeout_at = timeout_at
        self.conn_id = conn_id
        self.after_received_at = after_received_at
        self.end_task = end_task
        self.xcom_key = xcom_key

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "execution_plane.triggers.external_event.ExternalEventTrigger",
            {
                "correlation_key": self.correlation_key,
                "event_types": self.event_types,
                "timeout_at": self.timeout_at,
                "conn_id": self.conn_id,
                "after_received_at": self.after_received_at,
                "end_task": self.end_task,
                "xcom_key": self.xcom_key,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        outcome = await self._outcome()
        self.log.info("external event wait for %r ended: %s", self.correlation_key, outcome["status"])
        yield self._event(outcome)

    async def _outcome(self) -> dict[str, Any]:
        try:
            if not self.correlation_key or not self.event_types:
                raise ValueError("correlation_key and event_types must not be empty")
            deadline = parse_moment(self.timeout_at)
            listener = SharedEventListener.for_current_loop(self.conn_id)
            event = await listener.wait_for_event(
                self.correlation_key,
                [str(event_type) for event_type in self.event_types],
                after=parse_moment(self.after_received_at),
                until=deadline,
            )
        except (ListenerError, ValueError) as exc:
            self.log.error("cannot wait for external event %r: %s", self.correlation_key, exc)
            return {"status": "error", "message": f"{type(exc).__name__}: {exc}"}
        if event is None:
            return {"status": "expired", "timeout_at": deadline.isoformat() if deadline else None}
        return {"status": "received", "event": event}

    def _event(self, outcome: dict[str, Any]) -> TriggerEvent:
        if not self.end_task:
            return TriggerEvent(outcome)
        if outcome["status"] == "error":
            return TaskFailedEvent()
        return TaskSuccessEvent(xcoms={self.xcom_key: outcome, "return_value": outcome})


def parse_moment(value: str | datetime | None) -> datetime | None:
    """An aware UTC datetime from an ISO string or datetime (naive means UTC, Airflow's convention).

    :raises ValueError: not an ISO datetime (e.g. a template that was never rendered).
    """
    if value is None or value == "":
        return None
    # Through isoformat so a pendulum value (native template rendering) becomes a plain datetime for asyncpg.
    text = value.isoformat() if isinstance(value, datetime) else str(value).strip()
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
