"""A burst of new workflows does not take every worker slot: their first steps run in a pool of their own.

A durable workflow's *first steps* are the tasks a new run executes before it parks for the first time: every
task that is neither a wait (an approval gate, an outside-event or child wait, a date) nor downstream of one.
They run in the pool ``workflow_starts`` (``airflow_settings.yaml``: fewer slots than the executor's
parallelism), so when a CRM sends a thousand new deals at once, the remaining worker slots stay free for
what was already under way: a resumed workflow's next step, its waits resuming, compensations. Priority
weights alone (``weight_rule="upstream"``) cannot do that: they order the scheduler's choice among scheduled
tasks, not a slot the burst's tasks already hold (docs/adr/0003-parked-runs.md, measured).

The waits themselves stay in the default pool: a gate that resumes after its answer runs again on a worker
and must not queue behind the burst. A task given a pool of its own (``external_api``, ``llm``) keeps it.
"""

from __future__ import annotations

from typing import Any

STARTS_POOL = "workflow_starts"
DEFAULT_POOL = "default_pool"  # Airflow's DEFAULT_POOL_NAME (defined in a private module of the Task SDK)


def is_wait(task: Any) -> bool:
    """A task that parks the run: a sensor (outside event, child, date) or a human-in-the-loop gate."""
    from airflow.providers.standard.operators.hitl import HITLOperator
    from airflow.sdk import BaseSensorOperator

    cls = getattr(task, "operator_class", None) or type(task)  # a mapped task names its class
    return isinstance(cls, type) and issubclass(cls, (BaseSensorOperator, HITLOperator))


def first_steps(dag: Any) -> list[Any]:
    """The tasks a new run of ``dag`` executes before its first wait, in the DAG's order."""
    after_a_wait: set[str] = set()
    for task in dag.tasks:
        if is_wait(task):
            after_a_wait.add(task.task_id)
            after_a_wait |= task.get_flat_relative_ids(upstream=False)
    return [task for task in dag.tasks if task.task_id not in after_a_wait]


def pool_first_steps(dag: Any) -> list[str]:
    """Put ``dag``'s first steps in ``STARTS_POOL`` (those in the default pool); returns their task ids."""
    moved = []
    for task in first_steps(dag):
        if task.pool == DEFAULT_POOL:
            task.pool = STARTS_POOL
            moved.append(task.task_id)
    return moved
