"""Wait, possibly for days, for an outside system's event without holding a worker slot.

``ExternalEventSensor`` is deferrable only: it never pokes. Its result (returned, so XCom ``return_value``,
and also XCom ``xcom_key``) is the trigger's outcome, and the DAG branches on ``status``:
``{"status": "received", "event": {...}}`` or ``{"status": "expired", "timeout_at": ...}``. An error outcome
fails the task (retries apply).

The deadline: ``timeout_at`` (templated ISO datetime) when given, best taken from the step that started the
wait (e.g. ``"{{ ti.xcom_pull(task_ids='send_envelope')['expires_at'] }}"``). Otherwise it is the DAG run's
``start_date`` plus the sensor's ``timeout`` (default ``[sensors] default_timeout``, 7 days), written as a
template so the worker and the triggerer compute the same instant. Both stay fixed across retries and
triggerer restarts, so a retry never extends the wait. (Clearing a finished run resets its start_date: a
re-run gets a fresh deadline.)

``start_from_trigger=True``: the scheduler defers the task straight into the triggerer, which renders the
templated fields itself; with ``end_task=True`` too, the triggerer also ends the task and pushes the XComs,
so the wait never touches a worker. With ``start_from_trigger`` the templated arguments must be plain
values or Jinja strings (the triggerer renders them; an ``XComArg`` is not supported there).

``start_from_trigger`` in a DAG with a required param (no default), as every durable DAG here has
(``request_id``), is refused when the sensor is created (``StartFromTriggerUnsafe``): Airflow 3.3.2's
triggerer cannot render such a task and its trigger runner process dies, taking every parked wait of that
triggerer down with it (apache/airflow#72758, ``execution_plane.compat.trigger_start``). Defer from the
worker instead (a ~1 s start) and keep ``end_task``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowException
from airflow.triggers.base import StartTriggerArgs

from execution_plane import telemetry
from execution_plane.compat.trigger_start import refuse_start_from_trigger_with_required_params
from execution_plane.saga.db import BUSINESS_DB_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

    from execution_plane.triggers.external_event import ExternalEventTrigger

TRIGGER_CLASSPATH = "execution_plane.triggers.external_event.ExternalEventTrigger"
DEADLINE_FROM_RUN_START = "{{{{ (dag_run.start_date + macros.timedelta(seconds={seconds})).isoformat() }}}}"


class ExternalEventSensor(BaseSensorOperator):
    """Defer until ``external_events`` has a matching event for ``correlation_key``, or the deadline passes.

    :param correlation_key: the run's business key the outside system echoes back. (templated)
    :param event_types: event types that end the wait. (templated)
    :param timeout_at: ISO datetime deadline. (templated) Default: DAG run start + ``timeout``.
    :param after_received_at: ISO datetime; ignore events received until then. (templated)
    :param conn_id: Airflow connection of the business database.
    :param start_from_trigger: start in the triggerer, never on a worker (refused in a DAG with a required
        param, see above).
    :param end_task: end the task in the triggerer (XComs pushed there), never resuming on a worker.
    :param xcom_key: XCom key of the outcome (besides ``return_value``).
    """

    template_fields: Sequence[str] = ("correlation_key", "event_types", "timeout_at", "after_received_at")
    ui_color = "#fdf1d6"

    start_trigger_args = StartTriggerArgs(
        trigger_cls=TRIGGER_CLASSPATH,
        trigger_kwargs=None,
        next_method="execute_complete",
        next_kwargs=None,
        timeout=None,
    )
    start_from_trigger = False

    def __init__(
        self,
        *,
        correlation_key: str,
        event_types: Sequence[str],
        timeout_at: str | datetime | None = None,
        after_received_at: str | datetime | None = None,
        conn_id: str = BUSINESS_DB_CONN_ID,
        start_from_trigger: bool = False,
        end_task: bool = False,
        xcom_key: str = "event",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(event_types, str) or not event_types:
            raise ValueError("event_types must be a non-empty list of event types")
        self.correlation_key = correlation_key
        self.event_types = list(event_types)
        self.timeout_at = (
            timeout_at if timeout_at is not None else DEADLINE_FROM_RUN_START.format(seconds=self.timeout)
        )
        self.after_received_at = after_received_at
        self.conn_id = conn_id
        self.end_task = end_task
        self.xcom_key = xcom_key
        self.start_from_trigger = start_from_trigger
        refuse_start_from_trigger_with_required_params(self)
        if start_from_trigger:
            # The scheduler creates the trigger from these kwargs, unrendered; the triggerer renders the
            # kwargs that are also template fields of this operator (same names) before run().
            self.start_trigger_args = dataclasses.replace(
                self.start_trigger_args, trigger_kwargs=self._trigger_kwargs()
            )

    def _trigger_kwargs(self) -> dict[str, Any]:
        return {
            "correlation_key": self.correlation_key,
            "event_types": list(self.event_types),
            "timeout_at": self.timeout_at,
            "conn_id": self.conn_id,
            "after_received_at": self.after_received_at,
            "end_task": self.end_task,
            "xcom_key": self.xcom_key,
        }

    def _trigger(self, **overrides: Any) -> ExternalEventTrigger:
        # Imported when the task runs, not when a DAG file is parsed: the trigger's listener loads asyncpg.
        from execution_plane.triggers.external_event import ExternalEventTrigger

        return ExternalEventTrigger(**{**self._trigger_kwargs(), **overrides})

    def execute(self, context: Context) -> NoReturn:
        if self.end_task:
            self._register_wait(context)
        telemetry.incr("wait.parked", kind="event", workflow=self.dag_id)
        self.defer(trigger=self._trigger(), method_name="execute_complete")

    def _register_wait(self, context: Context) -> None:
        """Index this wait by correlation key so the ingress can end the task as soon as the event is stored.

        Before deferring: an event stored in between finds the task instance not deferred yet and leaves it
        to the trigger, which reads the inbox when it starts.
        """
        from execution_plane import event_waits
        from execution_plane.saga.db import connect
        from execution_plane.triggers.external_event import parse_moment

        ti = context["ti"]
        wait = event_waits.RegisteredWait(
            ti_id=ti.id,
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            map_index=ti.map_index if ti.map_index is not None else -1,
            correlation_key=self.correlation_key,
            event_types=tuple(str(event_type) for event_type in self.event_types),
            after_at=parse_moment(self.after_received_at),
            until_at=parse_moment(self.timeout_at),
            xcom_key=self.xcom_key,
        )
        conn = connect(self.conn_id, application_name="ep-event-wait")
        try:
            with conn, conn.cursor() as cur:
                event_waits.register(cur, wait)
        finally:
            conn.close()

    def execute_complete(self, context: Context, event: dict[str, Any] | str | None = None) -> dict[str, Any]:
        """Return the outcome (``received`` or ``expired``); an ``error`` outcome raises."""
        if self.end_task and not isinstance(event, dict):
            # Only dag.test() resumes a task its trigger ended: it runs triggers inline and hands over the
            # end event's bare state, dropping the XComs. The wait is deterministic, so wait again inline.
            event = self._wait_inline()
        if not isinstance(event, dict) or event.get("status") not in ("received", "expired"):
            message = event.get("message") if isinstance(event, dict) else repr(event)
            raise AirflowException(f"waiting for an event on {self.correlation_key!r} failed: {message}")
        if self.xcom_key != "return_value":
            context["ti"].xcom_push(key=self.xcom_key, value=event)
        # Resumed on a worker (a wait the triggerer or the ingress ended never comes here but in dag.test()).
        telemetry.incr(
            "wait.resumed", kind="event", outcome=str(event["status"]), by="worker", workflow=self.dag_id
        )
        return event

    def _wait_inline(self) -> dict[str, Any]:
        trigger = self._trigger(end_task=False)

        async def first_event() -> Any:
            return await anext(aiter(trigger.run()))

        outcome: dict[str, Any] = asyncio.run(first_event()).payload
        return outcome
