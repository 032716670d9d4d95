"""Steps: a workflow's task-side functions, declared once, wired by the DAG file.

    @step
    def fit_score(run: Run, profile: dict[str, Any]) -> dict[str, Any]:
        ...

``fit_score`` is then an Airflow task: the DAG file calls ``fit_score(profile)`` with the upstream step's
output and gets its output back (a dict: each key is also an XCom of its own, so ``sent["respond_by"]`` can
feed a wait's deadline). The function receives a `Run` first; its other parameters are the task's inputs.

A **routed step** decides where the workflow goes next: it returns a dict whose ``next`` names an outcome,
and the DAG file maps outcomes to tasks with ``routes(...)``; every other branch is skipped:

    @routed_step
    def route_response(run: Run, answer: dict[str, Any], round_no: int) -> dict[str, Any]:
        return {"next": "declined", "reason": "..."}

    routes(route_response(answer, 1), executive_approval=accepted, legal_review=next_round, otherwise=ended)

Step modules are imported when a DAG file is parsed: keep their imports cheap (domain models, hooks and
the ledger load inside the step bodies).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from airflow.providers.standard.decorators.python import _PythonDecoratedOperator
from airflow.sdk import task
from airflow.sdk.bases.branch import BranchMixIn
from airflow.sdk.bases.decorator import task_decorator_factory

from execution_plane.durable.run import Run

ROUTE_KEY = "next"


def _bound_to_run(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn(run, *inputs)`` as ``task_body(*inputs)``: Airflow sees the inputs only."""

    @functools.wraps(fn)
    def body(*args: Any, **kwargs: Any) -> Any:
        from airflow.sdk import get_current_context

        run = Run(get_current_context())
        try:
            return fn(run, *args, **kwargs)
        finally:
            run.close()

    signature = inspect.signature(fn)
    inputs = list(signature.parameters.values())[1:]
    body.__signature__ = signature.replace(parameters=inputs)  # type: ignore[attr-defined]
    return body


def step(fn: Callable[..., Any] | None = None, **task_kwargs: Any) -> Any:
    """A workflow step as an Airflow task; ``task_kwargs`` are the task's (e.g. ``retries``)."""

    def decorate(function: Callable[..., Any]) -> Any:
        return task(_bound_to_run(function), **task_kwargs)

    return decorate(fn) if fn is not None else decorate


class RoutedStepOperator(_PythonDecoratedOperator, BranchMixIn):
    """A step whose result's ``next`` chooses the branch to follow; its result is its output as usual."""

    inherits_from_skipmixin = True
    custom_operator_name = "@routed_step"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.route_map: dict[str, list[str]] = {}
        self.otherwise: list[str] | None = None

    def route(self, outcome: str | None, targets: Iterable[Any]) -> None:
        task_ids = []
        for target in targets:
            operator = getattr(target, "operator", target)
            self >> operator
            task_ids.append(operator.task_id)
        if outcome is None:
            self.otherwise = task_ids
        else:
            self.route_map[outcome] = task_ids

    def execute(self, context: Any) -> Any:
        from airflow.sdk.exceptions import AirflowException

        result = super().execute(context)
        outcome = result.get(ROUTE_KEY) if isinstance(result, Mapping) else None
        targets = self.route_map.get(str(outcome), self.otherwise)
        if targets is None:
            raise AirflowException(
                f"{self.task_id}: no route for outcome {outcome!r} ({sorted(self.route_map)})"
            )
        # Pushed now: skipping the other branches ends execute() with DownstreamTasksSkipped, and the task
        # runner then pushes nothing (Airflow 3.3's task_runner, the same for @task.branch).
        ti = context["ti"]
        if self.multiple_outputs and isinstance(result, Mapping):
            for key, value in result.items():
                ti.xcom_push(key=key, value=value)
        ti.xcom_push(key="return_value", value=result)
        self.do_branch(context, targets)
        return result


def routed_step(fn: Callable[..., Any] | None = None, **task_kwargs: Any) -> Any:
    """A step that also chooses the branch to follow (``routes`` says which task each outcome means)."""

    def decorate(function: Callable[..., Any]) -> Any:
        return task_decorator_factory(
            python_callable=_bound_to_run(function),
            decorated_operator_class=RoutedStepOperator,
            **task_kwargs,
        )

    return decorate(fn) if fn is not None else decorate


def routes(step_output: Any, otherwise: Any = None, **outcomes: Any) -> Any:
    """Where a routed step's outcomes lead: ``outcome=task`` (or a list of tasks), ``otherwise=`` for the
    rest. Returns the step's output."""
    operator = step_output.operator
    if not isinstance(operator, RoutedStepOperator):
        raise TypeError(f"{operator.task_id} is not a routed step")
    for outcome, target in outcomes.items():
        operator.route(outcome, target if isinstance(target, list | tuple) else [target])
    if otherwise is not None:
        operator.route(None, otherwise if isinstance(otherwise, list | tuple) else [otherwise])
    return step_output


def body_of(step_task: Any) -> Callable[..., Any]:
    """The plain function behind a step (``fn(run, *inputs)``), for tests below the DAG."""
    function: Callable[..., Any] = step_task.function.__wrapped__
    return function
