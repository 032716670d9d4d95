"""No ``start_from_trigger`` in a DAG with a required param: refused at DAG parse, not found in the triggerer.

Airflow 3.3.2 cannot start such a task in the triggerer. The trigger runner rebuilds the task from the
serialized DAG to render its templates (``TriggerRunner.create_triggers`` -> ``create_runtime_ti`` ->
``RuntimeTaskInstance.get_template_context`` -> ``process_params``). Merging the deserialized task's params
validates each one before the run's conf is merged, so a param without a default raises
``ParamValidationError`` ("No value passed and Param has no default value") even when the run's conf
supplies it. ``create_triggers`` only catches ``TypeError`` there: the error escapes, the runner's main loop
re-raises it and the trigger runner process dies, taking every wait of that triggerer down; restarted, it
picks up the same trigger and dies again. Upstream: apache/airflow#72758 (open fix: an error while building
a task that starts in the triggerer no longer kills the runner); related #53063 and #51245
(``start_from_trigger`` with templated fields).

Every durable DAG here has a required ``request_id``, so their waits defer from the worker instead (a ~1 s
start) and may still end in the triggerer. :func:`refuse_start_from_trigger_with_required_params` makes
that rule an error at DAG parse (the dag-processor reports it as the file's import error) instead of a dead
triggerer in production; ``ExternalEventSensor`` calls it, and :func:`check_dag` applies it to every task
of a DAG (for operators of other packages, e.g. ``DateTimeSensorAsync(start_from_trigger=True)``).

Canary: ``tests/plugins/compat/test_trigger_start.py`` has Airflow's own scheduler defer a plain
``DateTimeSensorAsync`` of a DAG with a required param, Airflow's triggerer supervisor build its workload
from the metadata DB (the run's conf included) and the trigger runner create it. When that no longer
raises, delete this module and its calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import DAG

UPSTREAM_REPORT = "apache/airflow#72758"


class StartFromTriggerUnsafe(ValueError):
    """A task would start in the triggerer of a DAG whose params Airflow 3.3.2's triggerer cannot render."""


def required_params(task: Any) -> list[str]:
    """Params of the task (its DAG's included) that have no default: the run must supply them. A default of
    None is a default (the triggerer renders it)."""
    from airflow.sdk.definitions._internal.types import is_arg_set

    params: dict[str, Any] = {}
    dag = getattr(task, "dag", None)
    if dag is not None:
        params.update(dag.params.items())
    params.update((task.params or {}).items())
    # By type, not identity: a task's params are deep copies, whose "no default" is a copy of NOTSET
    # (``Param.has_value`` says True for it).
    return sorted(name for name, param in params.items() if not is_arg_set(param.value))


def refuse_start_from_trigger_with_required_params(task: Any) -> None:
    """Raise :class:`StartFromTriggerUnsafe` when ``task`` starts in the triggerer and its DAG (or the task)
    has a param without a default. Call it once the task knows its DAG (constructed inside ``with DAG`` /
    ``@dag``); a task without a DAG yet is checked by :func:`check_dag`."""
    if not getattr(task, "start_from_trigger", False):
        return
    required = required_params(task)
    if not required:
        return
    dag_id = task.dag.dag_id if getattr(task, "dag", None) is not None else "?"
    raise StartFromTriggerUnsafe(
        f"{type(task).__name__} {task.task_id!r} of DAG {dag_id!r} has start_from_trigger=True, but the DAG "
        f"has params without a default ({', '.join(required)}): Airflow 3.3.2's triggerer cannot render such "
        f"a task (ParamValidationError) and its trigger runner dies and crash-loops ({UPSTREAM_REPORT}). "
        "Start it on a worker (start_from_trigger=False); it can still end in the triggerer."
    )


def check_dag(dag: DAG) -> None:
    """:func:`refuse_start_from_trigger_with_required_params` for every task of ``dag``."""
    for task in dag.tasks:
        refuse_start_from_trigger_with_required_params(task)
