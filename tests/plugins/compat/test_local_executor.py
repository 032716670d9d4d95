"""The project's executor (execution_plane.compat.local_executor.BoundedLocalExecutor), with real forked
workers.

The trap it closes, apache/airflow#67870, is reproduced first on Airflow's own LocalExecutor, so that the
day an Airflow upgrade fixes it this test says so and the subclass can go.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from multiprocessing.queues import SimpleQueue
from typing import Any, TypeVar

import pytest
from airflow.executors.executor_loader import ExecutorLoader
from airflow.executors.local_executor import LocalExecutor

from execution_plane.compat.local_executor import BoundedLocalExecutor

# A hang shows as end() still running after this long; a bounded end() returns within its 1 s timeout plus
# the kill, so this is a hang detector with a wide margin, not a timing assertion.
HANG_S = 20.0


def lose_one_stop_message(executor: LocalExecutor) -> None:
    """The first stop message end() sends never reaches a worker (how it is lost in production does not
    matter here: the scheduler must still exit)."""
    queue: SimpleQueue[Any] = executor.activity_queue
    real_put = queue.put
    lost: list[None] = []

    def put(item: Any) -> None:
        if item is None and not lost:
            lost.append(item)
            return
        real_put(item)

    setattr(queue, "put", put)  # noqa: B010 (mypy refuses assigning a method)


def alive(proc: Any) -> bool:
    try:
        return bool(proc.is_alive())
    except ValueError:
        return False  # closed by end(): it was joined


def end_in_thread(executor: LocalExecutor, wait_s: float = HANG_S) -> threading.Thread:
    thread = threading.Thread(target=executor.end, name="executor-end", daemon=True)
    thread.start()
    thread.join(wait_s)
    return thread


@pytest.fixture
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__EXECUTION_PLANE__EXECUTOR_SHUTDOWN_TIMEOUT", "1")


@pytest.fixture
def started() -> Iterator[list[LocalExecutor]]:
    """Executors a test started; any worker left alive is killed at the end."""
    executors: list[LocalExecutor] = []
    yield executors
    for executor in executors:
        for proc in list(executor.workers.values()):
            if alive(proc) and proc.pid:
                os.kill(proc.pid, signal.SIGKILL)


E = TypeVar("E", bound=LocalExecutor)


def start(executor: E, started: list[LocalExecutor]) -> E:
    executor.start()
    started.append(executor)
    assert len(executor.workers) == 2
    return executor


def test_airflows_local_executor_still_hangs_when_a_worker_misses_its_stop_message(
    started: list[LocalExecutor],
) -> None:
    executor = start(LocalExecutor(parallelism=2), started)
    lose_one_stop_message(executor)
    thread = end_in_thread(executor, wait_s=0)
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline and sum(alive(p) for p in executor.workers.values()) > 1:
        time.sleep(0.1)  # the worker that got its stop message exits
    thread.join(2)
    hung = thread.is_alive()
    stuck = [pid for pid, proc in executor.workers.items() if alive(proc)]
    for pid in stuck:
        os.kill(pid, signal.SIGKILL)  # let the stuck end() finish
    thread.join(HANG_S)
    assert hung and len(stuck) == 1, (
        "Airflow's LocalExecutor.end() no longer hangs: BoundedLocalExecutor can go"
    )


def test_bounded_executor_kills_the_worker_that_missed_its_stop_message_and_returns(
    short_timeout: None, started: list[LocalExecutor]
) -> None:
    executor = start(BoundedLocalExecutor(parallelism=2), started)
    workers = dict(executor.workers)
    lose_one_stop_message(executor)
    thread = end_in_thread(executor)
    assert not thread.is_alive(), "end() hung"
    assert len(executor.killed_workers) == 1 and executor.killed_workers[0] in workers
    for pid in workers:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped: no zombie left behind


def test_bounded_executor_stops_idle_workers_without_killing_them(
    short_timeout: None, started: list[LocalExecutor]
) -> None:
    executor = start(BoundedLocalExecutor(parallelism=2), started)
    thread = end_in_thread(executor)
    assert not thread.is_alive(), "end() hung"
    assert executor.killed_workers == []


def test_shutdown_timeout_comes_from_airflow_config(monkeypatch: pytest.MonkeyPatch) -> None:
    executor = BoundedLocalExecutor(parallelism=1)
    monkeypatch.delenv("AIRFLOW__EXECUTION_PLANE__EXECUTOR_SHUTDOWN_TIMEOUT", raising=False)
    assert executor.shutdown_timeout_s() == 60.0
    monkeypatch.setenv("AIRFLOW__EXECUTION_PLANE__EXECUTOR_SHUTDOWN_TIMEOUT", "7.5")
    assert executor.shutdown_timeout_s() == 7.5


def test_the_project_runs_the_bounded_executor() -> None:
    """The configuration every stack of the project reads (make run, make test, chaos, bench, the image) names
    it as the executor."""
    cls, _ = ExecutorLoader.import_default_executor_cls()
    assert cls is BoundedLocalExecutor
