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

# How often the driver looks at the run.
POLL_S = 0.05
# How long after a gate starts waiting the driver answers it. dag.test() runs tasks inline with no executor,
# so the live stacks' early-answer failure (a stale executor event, execution_plane.compat.hitl_early_answer,
# why their people wait 1.5 s) cannot happen; but the in-process task supervisor still records the task as
# awaiting input once more as it finishes, and an answer given before that is overwritten (seen: a run
# parked forever on an answered gate). A few hundred milliseconds clear it on a quiet machine; on a busy one
# the driver also resumes an answered gate it finds parked again (``resume_if_overwritten``), as the gate's
# own retry would recover the answer on a live stack.
ANSWER_AFTER_S = 0.3


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
                    time.sleep(ANSWER_AFTER_S)
                    answer(self.dag_id, self.run_id or "", step.task_id, step.option, step.user, step.comment)
                    resume_if_overwritten(self.dag_id, self.run_id or "", step.task_id)
                elif isinstance(step, Event) and state in ("scheduled", "queued", "running", "deferred"):
                    # The trigger reads the inbox before it listens: delivering early is as good as late.
                    deliver(step.route, step.body, step.secret_conn)
                else:
                    time.sleep(POLL_S)
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


def resume_if_overwritten(dag_id: str, run_id: str, task_id: str, timeout_s: float = 20) -> None:
    """Watch an answered gate until dag.test() runs it; if it is parked again with its answer recorded (the
    in-process supervisor's late write), hand the answer over once more, as the answer did."""
    from airflow.models import TaskInstance
    from airflow.models.hitl import HITLDetail
    from airflow.models.trigger import handle_event_submit
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    deadline, parked_again = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline:
        time.sleep(0.1)
        with create_session() as session:
            ti = session.scalars(
                select(TaskInstance)
                .where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.run_id == run_id,
                    TaskInstance.task_id == task_id,
                )
                .with_for_update()
            ).one()
            if ti.state not in ("awaiting_input", "scheduled", "queued"):
                return  # running or done: the answer was taken
            parked_again = parked_again + 1 if ti.state == "awaiting_input" else 0
            detail = session.scalars(select(HITLDetail).where(HITLDetail.ti_id == ti.id)).one()
            if parked_again >= 2 and detail.response_received:
                handle_event_submit(
                    TriggerEvent(detail.as_resume_event_payload()), task_instance=ti, session=session
                )
                parked_again = 0


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
                        time.sleep(POLL_S)
                        continue
                elif isinstance(step, Do):
                    if self.run_id is None or (step.states and state not in step.states):
                        time.sleep(POLL_S)
                        continue
                    step.action()
                elif isinstance(step, Approve) and state == "awaiting_input":
                    time.sleep(ANSWER_AFTER_S)
                    answer(self.dag_id, self.run_id or "", step.task_id, step.option, step.user, step.comment)
                    resume_if_overwritten(self.dag_id, self.run_id or "", step.task_id)
                elif isinstance(step, Event) and state in ("scheduled", "queued", "running", "deferred"):
                    deliver(step.route, step.body, step.secret_conn)
                else:
                    time.sleep(POLL_S)
                    continue
                self.done.append(step.task_id)
                if self.on_step:
                    self.on_step(step)
                pending.pop(0)
            if pending and not self._stop.is_set():
                self.errors.append(f"steps not reached: {[s.task_id for s in pending]}")
        except Exception:
            self.errors.append(traceback.format_exc())


def params_kept(test: Callable[..., Any]) -> Callable[..., Any]:
    """``DAG.test`` that leaves the DAG's params as it found them.

    The Task SDK's ``process_params`` (airflow/sdk/definitions/param.py) merges a run's conf into a
    ``ParamsDict`` that holds the task's own ``Param`` objects, and ``Param.resolve(value)`` stores the value
    in the object: after ``dag.test(run_conf={"channel": "whatsapp"})`` the DAG's default *is* "whatsapp" for
    every later ``dag.test()`` of that DAG object in the process (seen: meeting_booking's expiry test sent
    WhatsApp messages after the Arabic WhatsApp test; every param a test leaves out inherits the last run's).
    A deployment is not affected: each task process parses its DAG anew. Found here, no upstream report
    found; tests/test_dag_test_params.py is the canary that fails once Airflow stops doing it.
    """

    def run(dag: Any, *args: Any, **kwargs: Any) -> Any:
        params = [*dag.params.values()] + [p for task in dag.tasks for p in task.params.values()]
        kept = {id(p): (p, p.value) for p in params}
        try:
            return test(dag, *args, **kwargs)
        finally:
            for param, value in kept.values():
                param.value = value

    run.__wrapped__ = test  # type: ignore[attr-defined]
    return run


def bundle_synced_once(test: Callable[..., Any]) -> Callable[..., Any]:
    """``DAG.test`` that parses and writes its DAG's bundle once per process, not on every call.

    Since apache/airflow#64884's fix, every ``dag.test()`` walks the bundle that owns its DAG (here the
    GitDagBundle's checkout: all 27 DAG files), parses every file and bulk-writes every DAG to the metadata
    database, so sibling DAGs (TriggerDagRunOperator targets) exist: about 4.5 s of each call on this machine,
    most of the suite's time (some 250 calls). The bundle does not change during a test session (setup
    committed it), so the first call's parse is kept and its write is skipped afterwards while every DAG of it
    still has a version in the database (a test that deleted one gets the full sync again).
    """
    import airflow.dag_processing.dagbag as dagbag_module

    real_bag, real_sync = dagbag_module.BundleDagBag, dagbag_module.sync_bag_to_db
    bags: dict[tuple[str, str], Any] = {}
    synced: set[tuple[int, str | None]] = set()

    def bag(*, dag_folder: Any, bundle_path: Any, bundle_name: str, **kwargs: Any) -> Any:
        key = (bundle_name, str(bundle_path))
        if key not in bags or kwargs:
            bags[key] = real_bag(
                dag_folder=dag_folder, bundle_path=bundle_path, bundle_name=bundle_name, **kwargs
            )
        return bags[key]

    def all_versioned(dag_ids: list[str]) -> bool:
        from airflow.models.dag_version import DagVersion
        from airflow.utils.session import create_session
        from sqlalchemy import distinct, func, select

        with create_session() as session:
            count = session.scalar(
                select(func.count(distinct(DagVersion.dag_id))).where(DagVersion.dag_id.in_(dag_ids))
            )
        return count == len(dag_ids)

    def sync(dagbag: Any, bundle_name: str, bundle_version: str | None, **kwargs: Any) -> None:
        key = (id(dagbag), bundle_version)
        if key in synced and not kwargs and all_versioned(list(dagbag.dags)):
            return
        real_sync(dagbag, bundle_name, bundle_version, **kwargs)
        synced.add(key)

    def run(dag: Any, *args: Any, **kwargs: Any) -> Any:
        dagbag_module.BundleDagBag, dagbag_module.sync_bag_to_db = bag, sync
        try:
            return test(dag, *args, **kwargs)
        finally:
            dagbag_module.BundleDagBag, dagbag_module.sync_bag_to_db = real_bag, real_sync

    run.__wrapped__ = test  # type: ignore[attr-defined]
    return run


def dag_callbacks_with_sdk_params(execute: Callable[..., Any]) -> Callable[..., Any]:
    """``DagRun.execute_dag_callbacks`` (what ``dag.test()`` runs when a run ends) with the last task's params
    handed to the callbacks' context as the Task SDK's ``ParamsDict``.

    Airflow 3.3 builds that context from the *serialized* task, whose params are a ``SerializedParamsDict``;
    the Task SDK's ``process_params`` merges it key by key (``MutableMapping.update``), reading each value, so
    a required param with no default (every workflow's ``request_id``) raises ``ParamValidationError``
    before the run's conf is applied, and ``dag.test()`` of any failed run of such a DAG ends with it, whether
    the DAG has callbacks or not. Production is not affected (the DAG processor runs callbacks on the parsed
    DAG). No upstream report found; tests/test_dag_test_params.py has the canary.
    """

    def run(
        dag_run: Any, dag: Any, success: bool = True, relevant_ti: Any = None, reason: str = "success"
    ) -> Any:
        if relevant_ti is not None:
            task = dag.get_task(relevant_ti.task_id)
            task.params = sdk_params(task.params)  # the run's own deserialized copy of the DAG
        return execute(dag_run, dag, success=success, relevant_ti=relevant_ti, reason=reason)

    run.__wrapped__ = execute  # type: ignore[attr-defined]
    return run


def sdk_params(params: Any) -> Any:
    """A serialized task's params as the Task SDK's ``ParamsDict`` (same defaults, schemas, descriptions)."""
    from airflow.sdk.definitions.param import Param, ParamsDict
    from airflow.serialization.definitions.notset import is_arg_set

    if isinstance(params, ParamsDict):
        return params
    converted = {}
    for key, param in params.items():
        default = {"default": param.value} if is_arg_set(param.value) else {}
        converted[key] = Param(description=param.description, source=param.source, **default, **param.schema)
    return ParamsDict(converted)
