"""Drive a durable DAG through `dag.test()`: answer its approvals and deliver its outside events.

`dag.test()` keeps a run alive while a task awaits input and runs triggers inline; a driver thread
plays the people and the outside systems:
- an approval is answered exactly as Airflow's PATCH .../hitlDetails route does (same locking, same
  `handle_event_submit` resume), as the named user;
- an outside event goes through the real webhook app (signed request, `external_events` insert, NOTIFY).
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from include.security.hmac_signing import signed_headers


@dataclass
class Approve:
    task_id: str
    user: str
    option: str = "Approve"
    comment: str = ""


@dataclass
class Event:
    """Deliver once ``task_id`` (a sensor) is under way: POST /webhooks/<route> signed with <secret_conn>."""

    task_id: str
    route: str
    body: dict[str, Any]
    secret_conn: str = "webhook_events"


@dataclass
class Driver:
    dag_id: str
    script: list[Approve | Event]
    timeout_s: float = 120
    done: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    run_id: str | None = None
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    on_step: Callable[[Approve | Event], None] | None = None

    def start(self) -> Driver:
        # Import and configure every model in this thread first: the driver's first query configures the
        # ORM mappers, and doing that while dag.test() is still importing models deadlocks.
        import airflow.api.common.trigger_dag
        import airflow.providers.standard.operators.trigger_dagrun  # noqa: F401
        from airflow.models import import_all_models
        from sqlalchemy.orm import configure_mappers

        import_all_models()
        configure_mappers()

        webhook_client()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def _states(self) -> dict[str, str]:
        from airflow.models import DagRun, TaskInstance
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            if self.run_id is None:
                run = session.scalars(
                    select(DagRun)
                    .where(DagRun.dag_id == self.dag_id, DagRun.state == "running")
                    .order_by(DagRun.id.desc())
                ).first()
                if run is None:
                    return {}
                self.run_id = run.run_id
            rows = session.execute(
                select(TaskInstance.task_id, TaskInstance.state).where(
                    TaskInstance.dag_id == self.dag_id, TaskInstance.run_id == self.run_id
                )
            ).all()
        return {task_id: str(state) if state else "" for task_id, state in rows}

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        pending = list(self.script)
        try:
            while pending and not self._stop.is_set() and time.monotonic() < deadline:
                step = pending[0]
                state = self._states().get(step.task_id, "")
                if isinstance(step, Approve) and state == "awaiting_input":
                    # People are never faster than a second (Airflow 3.3.2 early-answer failure).
                    time.sleep(1.2)
                    answer(self.dag_id, self.run_id or "", step.task_id, step.option, step.user, step.comment)
                elif isinstance(step, Event) and state in ("scheduled", "queued", "running", "deferred"):
                    # The trigger reads the inbox before it listens: delivering early is as good as late.
                    deliver(step.route, step.body, step.secret_conn)
                else:
                    time.sleep(0.3)
                    continue
                self.done.append(step.task_id)
                if self.on_step:
                    self.on_step(step)
                pending.pop(0)
            if pending and not self._stop.is_set():
                self.errors.append(f"steps not reached: {[s.task_id for s in pending]}")
        except Exception:
            self.errors.append(traceback.format_exc())


def answer(dag_id: str, run_id: str, task_id: str, option: str, user: str, comment: str = "") -> None:
    """What PATCH /api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/-1/hitlDetails does."""
    from airflow.models import TaskInstance
    from airflow.models.hitl import HITLDetail
    from airflow.models.trigger import handle_event_submit
    from airflow.sdk import timezone
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance)
            .where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id
            )
            .with_for_update()
        ).one()
        detail = session.scalars(
            select(HITLDetail).where(HITLDetail.ti_id == ti.id).with_for_update(of=HITLDetail)
        ).one()
        assert not detail.response_received, f"{task_id} already answered"
        assigned = {u["id"] for u in detail.assigned_users or []}
        assert not assigned or user in assigned, f"{user} is not assigned to {task_id}"
        detail.responded_by = {"id": user, "name": user}
        detail.responded_at = timezone.utcnow()
        detail.chosen_options = [option]
        detail.params_input = {"comment": comment}
        session.add(detail)
        handle_event_submit(TriggerEvent(detail.as_resume_event_payload()), task_instance=ti, session=session)


_CLIENT: TestClient | None = None


def webhook_client() -> TestClient:
    global _CLIENT
    if _CLIENT is None:
        from execution_plane.webhooks.app import create_app

        _CLIENT = TestClient(create_app())
    return _CLIENT


def deliver(route: str, body: dict[str, Any], secret_conn: str = "webhook_events") -> Any:
    from airflow.sdk import BaseHook

    raw = json.dumps(body).encode()
    secret = BaseHook.get_connection(secret_conn).password
    resp = webhook_client().post(f"/{route}", content=raw, headers=signed_headers(secret, raw, time.time()))
    assert resp.status_code in (200, 201, 202), resp.text
    return resp.json()


def partner_event(
    request_id: str,
    round_no: int,
    event_type: str,
    payload: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> Event:
    return Event(
        task_id=f"round_{round_no}.partner_response",
        route="events/partner",
        body={
            "event_id": event_id or f"{request_id}-r{round_no}-{event_type}",
            "type": event_type,
            "correlation_key": f"partner_approval:{request_id}:round:{round_no}",
            "payload": payload or {},
            "occurred_at": "2026-11-25T10:00:00Z",
        },
    )


# ----------------------------------------------------------------------------- expiry and scripted actions
@dataclass
class Expire:
    """Let ``task_id``'s approval run out: once its deadline passed, resolve it as the scheduler would."""

    task_id: str


@dataclass
class Do:
    """Call ``action()`` once ``task_id`` is in one of ``states`` (no states: as soon as the step is reached,
    i.e. right after the previous step), e.g. to make an outside system fail from then on."""

    task_id: str
    action: Callable[[], Any]
    states: tuple[str, ...] = ()


def expire(dag_id: str, run_id: str, task_id: str) -> bool:
    """What the scheduler's timeout sweep (``SchedulerJobRunner.check_awaiting_input_timeouts``) does for one
    task instance whose request has defaults: dag.test() never runs that sweep. Applies the defaults as the
    response (``responded_by`` None) and resumes the task with a timed-out event.

    False (nothing done) while the task is not awaiting input or its deadline has not passed yet.
    """
    from airflow.models import TaskInstance
    from airflow.models.hitl import HITLDetail
    from airflow.models.trigger import handle_event_submit
    from airflow.sdk import timezone
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        now = timezone.utcnow()
        ti = session.scalars(
            select(TaskInstance)
            .where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id
            )
            .with_for_update()
        ).one()
        if ti.state != "awaiting_input" or ti.trigger_timeout is None or ti.trigger_timeout >= now:
            return False
        detail = session.scalars(
            select(HITLDetail).where(HITLDetail.ti_id == ti.id).with_for_update(of=HITLDetail)
        ).one()
        # Answered just before the deadline: the scheduler resumes with that answer.
        if detail.responded_at is not None:
            handle_event_submit(
                TriggerEvent(detail.as_resume_event_payload(timedout=False)),
                task_instance=ti,
                session=session,
            )
            return True
        assert detail.defaults is not None, f"{task_id} has no defaults: the scheduler would fail it"
        detail.chosen_options = list(detail.defaults)
        detail.params_input = {
            key: value["value"] if isinstance(value, dict) and "value" in value else value
            for key, value in (detail.params or {}).items()
        }
        detail.responded_by = None
        detail.responded_at = now
        session.add(detail)
        handle_event_submit(
            TriggerEvent(detail.as_resume_event_payload(timedout=True)), task_instance=ti, session=session
        )
    return True


@dataclass
class ScriptDriver(Driver):
    """``Driver`` plus ``Expire`` and ``Do`` steps. With ``request_id`` it follows the running run whose conf
    carries that request id (not merely the newest running run of the DAG)."""

    request_id: str | None = None

    def _states(self) -> dict[str, str]:
        if self.run_id is None and self.request_id is not None:
            from airflow.models import DagRun
            from airflow.utils.session import create_session
            from sqlalchemy import select

            with create_session() as session:
                runs = session.execute(
                    select(DagRun.run_id, DagRun.conf).where(
                        DagRun.dag_id == self.dag_id, DagRun.state == "running"
                    )
                ).all()
            mine = [run_id for run_id, conf in runs if (conf or {}).get("request_id") == self.request_id]
            if not mine:
                return {}
            self.run_id = mine[0]
        return super()._states()

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        pending: list[Any] = list(self.script)
        try:
            while pending and not self._stop.is_set() and time.monotonic() < deadline:
                step = pending[0]
                state = self._states().get(step.task_id, "")
                if isinstance(step, Expire):
                    if state != "awaiting_input" or not expire(self.dag_id, self.run_id or "", step.task_id):
                        time.sleep(0.3)
                        continue
                elif isinstance(step, Do):
                    if self.run_id is None or (step.states and state not in step.states):
                        time.sleep(0.3)
                        continue
                    step.action()
                elif isinstance(step, Approve) and state == "awaiting_input":
                    time.sleep(1.2)  # people are never faster than a second (Airflow 3.3.2 early answer)
                    answer(self.dag_id, self.run_id or "", step.task_id, step.option, step.user, step.comment)
                elif isinstance(step, Event) and state in ("scheduled", "queued", "running", "deferred"):
                    deliver(step.route, step.body, step.secret_conn)
                else:
                    time.sleep(0.3)
                    continue
                self.done.append(step.task_id)
                if self.on_step:
                    self.on_step(step)
                pending.pop(0)
            if pending and not self._stop.is_set():
                self.errors.append(f"steps not reached: {[s.task_id for s in pending]}")
        except Exception:
            self.errors.append(traceback.format_exc())
