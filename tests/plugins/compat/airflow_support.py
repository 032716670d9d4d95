"""Airflow's own scheduler, workers' Execution API, public REST API and triggerer, driven in-process one step
at a time against the test metadata database, so a canary forces the interleaving a bug needs instead of
hoping for it.

- DAGs: ``tests/plugins/compat/dags`` is parsed and written to the metadata database as the dag-processor
  does (``sync_bag_to_db``), in a bundle of its own.
- Scheduler: :meth:`Scheduler.loop` is one iteration of ``SchedulerJobRunner._run_scheduler_loop``:
  ``_do_scheduling`` (schedule the runs, queue their tasks to the executor), ``executor.heartbeat()``,
  ``_process_executor_events``.
- Executor and workers: :class:`HandOffExecutor` is Airflow's ``BaseExecutor`` whose workers are the test.
  ``heartbeat()`` hands each queued workload over (``trigger_tasks``) and reports the workers' exits
  (``sync`` -> ``change_state``), as ``LocalExecutor`` does with its worker processes and result queue;
  :func:`run_workload` is the worker running it (``run_task_in_process``: the task runner and supervisor
  against the Execution API, in this process). ``LocalExecutor`` inherits every part the scheduler consults
  (``has_task``, ``change_state``, ``heartbeat``, ``trigger_tasks``, ``get_event_buffer``) from
  ``BaseExecutor`` unchanged: :func:`local_executor_keeps_base_bookkeeping` checks that premise.
- Public REST API: :class:`ApiServer` serves Airflow's own API app (``create_app("core")``) with uvicorn on a
  free loopback port, with the project's simple-auth users.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from airflow.executors.base_executor import BaseExecutor
from airflow.executors.local_executor import LocalExecutor

CANARY_DAGS = Path(__file__).parent / "dags"
BUNDLE = "ep-compat-canaries"
DAG_IDS = (
    "compat_hitl_plain",
    "compat_hitl_gate",
    "compat_trigger_start_plain",
    "compat_trigger_start_default",
    "compat_fail_fast_plain",
    "compat_fail_fast_guarded",
    "compat_parked_run",
    "compat_trigger_xcoms",
)


def local_executor_keeps_base_bookkeeping() -> bool:
    """What the scheduler asks an executor about a task comes from ``BaseExecutor``, for LocalExecutor too."""
    names = ("has_task", "change_state", "heartbeat", "trigger_tasks", "get_event_buffer", "queue_workload")
    return all(getattr(LocalExecutor, name) is getattr(BaseExecutor, name) for name in names)


class HandOffExecutor(BaseExecutor):
    """``BaseExecutor`` whose workers are the test: a dispatched workload goes to :attr:`handed`; a worker's
    exit is reported with :meth:`worker_exited` and read on the next ``heartbeat()``."""

    def __init__(self) -> None:
        super().__init__(parallelism=8)
        self.handed: list[Any] = []
        self._exits: list[tuple[Any, str]] = []

    def _process_workloads(self, workloads: Any) -> None:
        for workload in workloads:
            # As LocalExecutor._process_workloads: off the queue, onto a worker.
            self.queued_tasks.pop(workload.key)
            self.handed.append(workload)

    def worker_exited(self, key: Any, state: str) -> None:
        """What a LocalExecutor worker puts on its result queue when the task process ends."""
        self._exits.append((key, state))

    def sync(self) -> None:
        # LocalExecutor.sync -> _read_results: each result becomes change_state(key, state).
        while self._exits:
            key, state = self._exits.pop(0)
            self.change_state(key, state)

    def end(self) -> None:
        self.sync()

    def terminate(self) -> None:
        self._exits.clear()

    def workload(self, run_id: str, task_id: str) -> Any:
        """The last workload handed over for that task instance."""
        return [w for w in self.handed if w.ti.run_id == run_id and w.ti.task_id == task_id][-1]


def sync_canary_dags() -> dict[str, Any]:
    """Parse the canary DAGs and write them to the metadata DB, unpaused. Returns the parsed DAGs."""
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.utils.session import create_session

    with create_session() as session:
        if session.get(DagBundleModel, BUNDLE) is None:
            session.add(DagBundleModel(name=BUNDLE))
    bag = DagBag(dag_folder=CANARY_DAGS, bundle_path=CANARY_DAGS, bundle_name=BUNDLE)
    assert not bag.import_errors, bag.import_errors
    assert set(bag.dags) == set(DAG_IDS), sorted(bag.dags)
    sync_bag_to_db(bag, BUNDLE, None)
    with create_session() as session:
        for dag_id in DAG_IDS:
            session.get_one(DagModel, dag_id).is_paused = False
    return dict(bag.dags)


def delete_canary_dags() -> None:
    from airflow.api.common.delete_dag import delete_dag
    from airflow.models.dagbundle import DagBundleModel
    from airflow.utils.session import create_session

    for dag_id in DAG_IDS:
        with create_session() as session:
            delete_dag(dag_id, keep_records_in_log=False, session=session)
    with create_session() as session:
        bundle = session.get(DagBundleModel, BUNDLE)
        if bundle is not None:
            session.delete(bundle)


@contextmanager
def other_dags_paused() -> Iterator[None]:
    """Every DAG but the canaries paused while a canary's scheduler runs, as they were afterwards.

    The metadata DB is the xdist worker's, and earlier tests' DAG runs may still be running there (a
    compensation's tasks at priority 1,000 first): the scheduler would queue their tasks into the executor's
    slots ahead of the canary's, which then never reaches a worker. Airflow's scheduler skips paused DAGs'
    runs and task instances."""
    from airflow.models import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select, update

    with create_session() as session:
        others = list(
            session.scalars(
                select(DagModel.dag_id).where(DagModel.is_paused.is_(False), DagModel.dag_id.not_in(DAG_IDS))
            )
        )
        session.execute(update(DagModel).where(DagModel.dag_id.in_(others)).values(is_paused=True))
    try:
        yield
    finally:
        with create_session() as session:
            session.execute(update(DagModel).where(DagModel.dag_id.in_(others)).values(is_paused=False))


def delete_runs() -> None:
    """Every run of the canary DAGs (the scheduler of a test must see only that test's runs)."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(DagRun).where(DagRun.dag_id.in_(DAG_IDS)))


@dataclass
class Scheduler:
    """One scheduler (its own Job row) with a :class:`HandOffExecutor`."""

    executor: HandOffExecutor = field(default_factory=HandOffExecutor)
    runner: Any = None

    def __post_init__(self) -> None:
        from airflow.jobs.job import Job, JobState
        from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
        from airflow.utils.session import create_session

        job = Job()
        self.runner = SchedulerJobRunner(job=job, executors=[self.executor])
        job.state = JobState.RUNNING
        with create_session() as session:
            session.add(job)
            session.flush()
            self.job_id: int = job.id

    def close(self) -> None:
        """The scheduler ends: its Job row stops claiming to run."""
        from airflow.jobs.job import Job, JobState
        from airflow.sdk import timezone
        from airflow.utils.session import create_session

        with create_session() as session:
            job = session.get_one(Job, self.job_id)
            job.state, job.end_date = JobState.SUCCESS, timezone.utcnow()

    def start_run(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """A manual run, as ``POST /dagRuns`` creates it (state running, task instances created)."""
        from airflow.models.dagbag import DBDagBag
        from airflow.sdk import timezone
        from airflow.utils.session import create_session
        from airflow.utils.state import DagRunState
        from airflow.utils.types import DagRunTriggeredByType, DagRunType

        run_id = f"canary__{uuid.uuid4().hex[:12]}"
        with create_session() as session:
            dag = DBDagBag().get_latest_version_of_dag(dag_id, session=session)
            assert dag is not None, dag_id
            dag.create_dagrun(
                run_id=run_id,
                run_type=DagRunType.MANUAL,
                logical_date=None,
                data_interval=None,
                run_after=timezone.utcnow(),
                conf=conf or {},
                state=DagRunState.RUNNING,
                triggered_by=DagRunTriggeredByType.TEST,
                session=session,
            )
        return run_id

    def loop(self) -> None:
        """One iteration of the scheduler's main loop, in its order."""
        from airflow.utils.session import create_session

        with create_session() as session:
            self.runner._do_scheduling(session)
            session.expunge_all()
        self.executor.heartbeat()
        with create_session() as session:
            self.runner._process_executor_events(executor=self.executor, session=session)

    def ti(self, dag_id: str, run_id: str, task_id: str) -> Any:
        from airflow.models import TaskInstance
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            ti = session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.run_id == run_id,
                    TaskInstance.task_id == task_id,
                )
            ).one()
            session.expunge(ti)
            return ti

    def last_decision(self, dag_id: str, run_id: str) -> Any:
        """When the scheduler last examined the run (``DagRun.update_state``), or None."""
        from airflow.models import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            return session.scalar(
                select(DagRun.last_scheduling_decision).where(
                    DagRun.dag_id == dag_id, DagRun.run_id == run_id
                )
            )

    def run_state(self, dag_id: str, run_id: str) -> str:
        from airflow.models import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            state = session.scalar(
                select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
            )
            return str(state)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        from airflow.models import TaskInstance
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            rows = session.execute(
                select(TaskInstance.task_id, TaskInstance.state).where(
                    TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
                )
            ).all()
        return {task_id: str(state) if state else "" for task_id, state in rows}


def run_workload(workload: Any, task: Any) -> Any:
    """A worker runs the workload: Airflow's task runner and supervisor against the Execution API, in process.
    Returns the task instance state the run ended in."""
    from airflow.sdk.api.datamodels._generated import TaskInstance as SdkTaskInstance
    from airflow.sdk.execution_time.supervisor import run_task_in_process

    ti = workload.ti
    result = run_task_in_process(
        ti=SdkTaskInstance(
            id=ti.id,
            task_id=ti.task_id,
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            try_number=ti.try_number,
            map_index=ti.map_index,
            dag_version_id=ti.dag_version_id,
        ),
        task=task,
    )
    return result.ti.state


def work(scheduler: Scheduler, dag: Any, run_id: str, task_id: str) -> Any:
    """A worker runs the task's last handed-over workload to its end and exits; the exit is read on the next
    heartbeat (LocalExecutor's worker reports success whenever the task process ended, whatever the task's
    state). Returns the state the task ended in."""
    workload = scheduler.executor.workload(run_id, task_id)
    state = run_workload(workload, dag.get_task(task_id))
    scheduler.executor.worker_exited(workload.key, "success")
    return state


def trigger_workload(trigger_id: int) -> Any:
    """The workload the triggerer's supervisor builds for a trigger row: Airflow's own
    ``TriggerRunnerSupervisor.build_trigger_workloads`` reading the metadata DB (the trigger, its task
    instance, the run with its conf, the serialized DAG). The supervisor process itself (a Job, a forked
    runner) is not needed for that: only its log-file bookkeeping, given here."""
    from airflow.jobs.triggerer_job_runner import TriggerRunnerSupervisor

    supervisor = object.__new__(TriggerRunnerSupervisor)
    supervisor.job = None
    supervisor.id = uuid.uuid4()
    supervisor.logger_cache = {}
    (workload,) = TriggerRunnerSupervisor.build_trigger_workloads(supervisor, {trigger_id})
    return workload


class ApiServer:
    """Airflow's public REST API (the API server's ``core`` app), served on a free loopback port."""

    def __init__(self) -> None:
        import uvicorn
        from airflow.api_fastapi.app import create_app

        from devtools import env as ep_env

        self.port = ep_env.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._passwords: dict[str, str] = json.loads(
            Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text()
        )
        self._tokens: dict[str, str] = {}
        self.server = uvicorn.Server(
            uvicorn.Config(create_app("core"), host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, name="airflow-api", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("Airflow's API app did not start")
            time.sleep(0.05)

    def token(self, user: str) -> str:
        if user not in self._tokens:
            resp = httpx.post(
                f"{self.url}/auth/token",
                json={"username": user, "password": self._passwords[user]},
                timeout=30,
            )
            resp.raise_for_status()
            self._tokens[user] = resp.json()["access_token"]
        return self._tokens[user]

    def request(self, method: str, path: str, *, user: str = "admin", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}"}
        return httpx.request(method, f"{self.url}/api/v2{path}", headers=headers, timeout=30, **kwargs)

    def answer(self, dag_id: str, run_id: str, task_id: str, option: str, *, user: str) -> httpx.Response:
        """PATCH .../hitlDetails: a person's answer, as the Required Actions page sends it."""
        return self.request(
            "PATCH",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails",
            user=user,
            json={"chosen_options": [option], "params_input": {"comment": f"{option} by {user}"}},
        )

    def connection_env(self, user: str) -> str:
        """``AIRFLOW_CONN_AIRFLOW_API`` pointing at this server as ``user`` (what tasks use to reach it)."""
        return json.dumps(
            {"conn_type": "http", "host": self.url, "login": user, "password": self._passwords[user]}
        )

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
