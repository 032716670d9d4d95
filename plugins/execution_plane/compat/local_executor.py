"""The project's executor: Airflow's LocalExecutor, with a shutdown that cannot hang.

Airflow 3.3.2's ``LocalExecutor.end()`` sends one stop message per live worker and then ``join()``s every
worker without a timeout. When a worker never gets its stop message, the scheduler stays alive forever,
heartbeating nothing and scheduling nothing, and a process supervisor (systemd ``Restart=always``, a
container restart policy) never restarts it because the process has not exited (apache/airflow#67870).
Seen here: the scheduler lost its database in the chaos suite's Postgres restart, began to shut down, reaped
five of its six workers and waited on the sixth, idle on an empty queue, for twenty minutes.

``BoundedLocalExecutor.end()`` waits for running tasks as Airflow's does, but only up to
``[execution_plane] executor_shutdown_timeout`` seconds (default 60; env
``AIRFLOW__EXECUTION_PLANE__EXECUTOR_SHUTDOWN_TIMEOUT``). Workers still alive then are killed, so the
scheduler exits and its supervisor starts a new one. A task killed that way is failed by Airflow's
task-heartbeat check and retried; every side effect of a task goes through the ledger, so the retry does
not repeat one.

Only the LocalExecutor has this trap, so only it is replaced: a stack on Celery (``EP_EXECUTOR=celery``,
docker-compose.yaml, the Helm values) runs Airflow's ``CeleryExecutor`` unchanged; its ``end()`` starts and
joins no worker process (the workers are processes of their own, stopped by their own supervisor).

Canary: ``tests/plugins/compat/test_local_executor.py`` hangs Airflow's own ``LocalExecutor.end()`` the same
way; the day it stops hanging (the fix, PR apache/airflow#67881, is in the installed release), set
``[core] executor = LocalExecutor`` everywhere and delete this module.
"""

from __future__ import annotations

import time

from airflow.configuration import conf
from airflow.executors.local_executor import LocalExecutor

DEFAULT_SHUTDOWN_TIMEOUT_S = 60.0


class BoundedLocalExecutor(LocalExecutor):
    """LocalExecutor whose ``end()`` returns within ``executor_shutdown_timeout`` seconds (plus a few to kill
    and reap the workers that did not stop)."""

    #: pids of the workers the last ``end()`` had to kill (for the log and the tests).
    killed_workers: list[int | None]

    def shutdown_timeout_s(self) -> float:
        return conf.getfloat(
            "execution_plane", "executor_shutdown_timeout", fallback=DEFAULT_SHUTDOWN_TIMEOUT_S
        )

    def end(self) -> None:
        timeout = self.shutdown_timeout_s()
        self.log.info(
            "Shutting down LocalExecutor; waiting up to %.0f s for running tasks to finish.", timeout
        )
        workers = list(self.workers.values())
        for proc in workers:
            if proc.is_alive():
                self.activity_queue.put(None)  # one stop message per live worker, as Airflow's end()
        deadline = time.monotonic() + timeout
        for proc in workers:
            proc.join(max(0.0, deadline - time.monotonic()))
        stuck = [proc for proc in workers if proc.is_alive()]
        self.killed_workers = [proc.pid for proc in stuck]
        if stuck:
            self.log.warning(
                "LocalExecutor workers %s did not stop within %.0f s: killing them so the scheduler can exit",
                self.killed_workers,
                timeout,
            )
            for proc in stuck:
                proc.kill()
            for proc in stuck:
                proc.join(10)
        for proc in workers:
            if not proc.is_alive():
                proc.close()
        self._read_results()
        self.activity_queue.close()
        self.result_queue.close()
