"""Canary of ``execution_plane.compat.trigger_start`` (apache/airflow#72758; related #53063, #51245).

Airflow's own scheduler defers a plain ``DateTimeSensorAsync(start_from_trigger=True)`` straight into the
triggerer, Airflow's triggerer supervisor builds the workload from the metadata DB (the run's conf in it)
and Airflow's trigger runner creates the trigger, all in this process: with a param that has no default,
creating it raises out of the runner (its main loop re-raises and the runner process dies).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from airflow.jobs.triggerer_job_runner import TriggerRunner
from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import DAG, Param, dag
from airflow.sdk.exceptions import ParamValidationError
from airflow.utils.state import TaskInstanceState

from execution_plane.compat.trigger_start import StartFromTriggerUnsafe, check_dag, required_params
from execution_plane.sensors.external_event import ExternalEventSensor
from tests.plugins.compat import airflow_support as support
from tests.plugins.compat.airflow_support import Scheduler

CONF = {"request_id": "r-1"}


def deferred_to_the_triggerer(scheduler: Scheduler, dag_id: str) -> Any:
    """The run starts with ``CONF``; the scheduler defers its task to the triggerer. Returns the workload
    the triggerer gets for it."""
    run_id = scheduler.start_run(dag_id, CONF)
    scheduler.loop()
    ti = scheduler.ti(dag_id, run_id, "wait")
    assert ti.state == TaskInstanceState.DEFERRED and ti.trigger_id is not None
    # No worker involved. (The scheduler schedules every due DAG of its database: approval_reminders' run of
    # the present 5 minutes may be handed out meanwhile, rightly.)
    assert [w for w in scheduler.executor.handed if w.ti.dag_id == dag_id] == []
    workload = support.trigger_workload(ti.trigger_id)
    assert workload.dag_run_data["conf"] == CONF  # the triggerer has the run's conf
    return workload


async def create(workload: Any) -> TriggerRunner:
    """``TriggerRunner.create_triggers`` with that workload, as the runner's main loop calls it; the trigger
    it starts is cancelled before returning."""
    runner = TriggerRunner()
    runner.to_create.append(workload)
    try:
        await runner.create_triggers()
    finally:
        for trigger in runner.triggers.values():
            trigger["task"].cancel()
        await asyncio.gather(*(t["task"] for t in runner.triggers.values()), return_exceptions=True)
    return runner


# ----------------------------------------------------------------------------- plain Airflow: the bug
def test_airflows_trigger_runner_dies_creating_a_task_of_a_dag_with_a_required_param(
    scheduler: Scheduler, canary_dags: dict[str, Any]
) -> None:
    workload = deferred_to_the_triggerer(scheduler, "compat_trigger_start_plain")

    try:
        runner = asyncio.run(create(workload))
    except ParamValidationError as error:
        assert "request_id" in str(error)  # escaped create_triggers: the runner's main loop re-raises it
    else:
        pytest.fail(
            f"Airflow's triggerer now creates it (failed triggers: {list(runner.failed_triggers)}; "
            "apache/airflow#72758 fixed?): if it also runs, execution_plane.compat.trigger_start may go"
        )


def test_airflows_trigger_runner_creates_it_when_the_param_has_a_default(
    scheduler: Scheduler, canary_dags: dict[str, Any]
) -> None:
    """The same task and conf, the param with a default: the missing default is the whole difference."""
    workload = deferred_to_the_triggerer(scheduler, "compat_trigger_start_default")

    runner = asyncio.run(create(workload))

    assert list(runner.triggers) == [workload.id]
    assert not runner.failed_triggers


# ----------------------------------------------------------------------------- the workaround
def sensor(**kwargs: Any) -> ExternalEventSensor:
    args: dict[str, Any] = {
        "task_id": "wait",
        "correlation_key": "{{ run_id }}",
        "event_types": ["go"],
        "timeout_at": "2099-01-01T00:00:00+00:00",
    }
    return ExternalEventSensor(**{**args, **kwargs})


def test_the_sensor_refuses_to_start_in_the_triggerer_of_a_dag_with_a_required_param() -> None:
    with (
        DAG("ep_compat_required", schedule=None, params={"request_id": Param(type="string")}),
        pytest.raises(StartFromTriggerUnsafe) as refused,
    ):
        sensor(start_from_trigger=True, end_task=True)

    message = str(refused.value)
    assert "'wait'" in message and "'ep_compat_required'" in message and "request_id" in message
    assert "apache/airflow#72758" in message


def test_the_refusal_comes_at_parse_in_a_decorated_dag_too() -> None:
    @dag(schedule=None, params={"request_id": Param(type="string")})
    def ep_compat_decorated() -> None:
        sensor(start_from_trigger=True)

    with pytest.raises(StartFromTriggerUnsafe):
        ep_compat_decorated()


def test_a_task_level_required_param_counts() -> None:
    with DAG("ep_compat_task_param", schedule=None), pytest.raises(StartFromTriggerUnsafe, match="deal_id"):
        sensor(start_from_trigger=True, params={"deal_id": Param(type="string")})


@pytest.mark.parametrize(
    ("params", "start_from_trigger"),
    [
        ({"request_id": Param(type="string")}, False),
        ({"request_id": Param("r-0", type="string")}, True),
        ({"request_id": Param(None, type=["null", "string"])}, True),
        ({}, True),
    ],
    ids=["required-param-worker-start", "default", "none-default", "no-params"],
)
def test_what_the_triggerer_can_render_is_allowed(params: dict[str, Any], start_from_trigger: bool) -> None:
    with DAG("ep_compat_allowed", schedule=None, params=params):
        task = sensor(start_from_trigger=start_from_trigger, end_task=True)

    assert task.start_from_trigger is start_from_trigger


def test_check_dag_covers_operators_of_other_packages() -> None:
    with DAG("ep_compat_other", schedule=None, params={"request_id": Param(type="string")}) as other:
        DateTimeSensorAsync(
            task_id="day_30", target_time="{{ dag_run.start_date.isoformat() }}", start_from_trigger=True
        )
        DateTimeSensorAsync(task_id="day_31", target_time=datetime(2030, 1, 1) + timedelta(days=1))

    assert required_params(other.get_task("day_30")) == ["request_id"]
    with pytest.raises(StartFromTriggerUnsafe, match="'day_30'"):
        check_dag(other)


def test_the_projects_dags_pass_the_check(no_plugins: None) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from devtools import env as ep_env

    bag = DagBag(dag_folder=ep_env.REPO / "dags", bundle_path=ep_env.REPO / "dags", bundle_name="dags-folder")

    # Other import errors are the DAG integrity test's business; a refusal of ours is this test's.
    assert not [path for path, error in bag.import_errors.items() if "StartFromTriggerUnsafe" in error]
    assert bag.dags
    for parsed in bag.dags.values():
        check_dag(parsed)
