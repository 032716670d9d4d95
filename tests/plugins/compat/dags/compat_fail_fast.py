"""Canary DAGs: ``fail_fast`` with a failing task that is not a leaf, without and with an outcome teardown."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task, teardown

ARGS = {"start_date": datetime(2026, 1, 1), "catchup": False, "fail_fast": True}


@task(retries=0)
def step_fails() -> None:
    raise RuntimeError("a step failed after its retries")


@task(retries=0)
def after_step() -> None:
    """Downstream of the failing step: the leaf Airflow judges the run by."""


@task(retries=0)
def other_branch() -> None:
    """A parallel branch not yet started when the step fails (fail_fast skips it)."""


with DAG("compat_fail_fast_plain", schedule=None, **ARGS):
    step_fails() >> after_step()
    other_branch()


@teardown(on_failure_fail_dagrun=True)
def outcome() -> None:
    from execution_plane.compat.fail_fast import fail_if_a_task_failed

    fail_if_a_task_failed()


with DAG("compat_fail_fast_guarded", schedule=None, **ARGS):
    [step_fails() >> after_step(), other_branch()] >> outcome()
