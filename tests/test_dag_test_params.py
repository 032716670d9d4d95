"""Canaries of the dag.test() fixes tests/conftest.py applies for the session (tests/support/dagtest.py).

The Task SDK's ``process_params`` (what every task's context runs) stores a run's conf in the Param objects
of the DAG's tasks, so the next ``dag.test()`` of the same DAG object in the process gets the last run's
values as its defaults. tests/conftest.py wraps ``DAG.test`` with tests/support/dagtest.py ``params_kept``
for the whole session. When the first test fails, Airflow no longer leaks and the wrapper can go. The last
test is the canary of ``dag_callbacks_with_sdk_params``: when it fails, a serialized task's params resolve
from the conf."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Param
from airflow.sdk.definitions.param import process_params

from tests.support.dagtest import params_kept, sdk_params


def _dag() -> Any:
    with DAG(
        "ep_canary_dag_test_params",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        params={"channel": Param("email", type="string", enum=["email", "whatsapp"])},
    ) as dag:
        EmptyOperator(task_id="read")
    return dag


def _a_run(dag: Any, run_conf: dict[str, Any] | None = None) -> str:
    """What a task of a run sees as its params (the context's ``params``)."""
    return str(process_params(dag, dag.get_task("read"), run_conf, suppress_exception=False)["channel"])


def test_airflow_stores_a_runs_conf_in_the_dags_params() -> None:
    dag = _dag()
    assert _a_run(dag, {"channel": "whatsapp"}) == "whatsapp"
    assert _a_run(dag) == "whatsapp"  # the next run, given no channel, inherits the last one's
    assert dag.get_task("read").params["channel"] == "whatsapp"


def test_the_wrapper_keeps_the_declared_default() -> None:
    dag = _dag()
    kept = params_kept(_a_run)
    assert kept(dag, {"channel": "whatsapp"}) == "whatsapp"
    assert kept(dag) == "email"
    assert dag.get_task("read").params["channel"] == dag.params["channel"] == "email"


def test_a_serialized_tasks_required_param_fails_the_context_before_the_conf_is_applied() -> None:
    """What ``DagRun.execute_dag_callbacks`` does in ``dag.test()``: the context of the serialized task."""
    import pytest
    from airflow.sdk.exceptions import ParamValidationError
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG("ep_canary_required_param", schedule=None, params={"request_id": Param(type="string")}) as dag:
        EmptyOperator(task_id="read")
    serialized = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    task = serialized.get_task("read")
    with pytest.raises(ParamValidationError, match="request_id"):
        process_params(serialized, task, {"request_id": "r-1"}, suppress_exception=False)
    # The SDK DAG itself resolves it from the conf, and so does the serialized task given the SDK's params.
    assert process_params(dag, dag.get_task("read"), {"request_id": "r-1"}, suppress_exception=False) == {
        "request_id": "r-1"
    }
    task.params = sdk_params(task.params)
    assert process_params(serialized, task, {"request_id": "r-1"}, suppress_exception=False) == {
        "request_id": "r-1"
    }
    task.params = sdk_params(DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag)).params)
    with pytest.raises(ParamValidationError, match="request_id"):  # still required
        process_params(serialized, task, {}, suppress_exception=False)
