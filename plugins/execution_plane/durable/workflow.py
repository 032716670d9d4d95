"""``durable_workflow``: the DAG factory every durable workflow uses, so its DAG file holds only its story.

    @durable_workflow(doc_md=__doc__, tags=["priority", "partners"], params={"partner_id": id_param("...")})
    def partner_approval() -> None:
        profile = steps.identify_partner()
        ...

What every durable DAG has, set here once: the workflow's business key ``request_id`` (first param),
``schedule=None``, ``catchup=False``, owner and retries with backoff (``execution_plane.defaults``), its
inventory class tag first, ``max_active_runs`` high enough for hundreds of parked runs (a parked run holds
no slot), the failure callback that starts compensation, its first steps in the pool ``workflow_starts`` (a
burst of new workflows leaves worker slots to the ones under way: ``execution_plane.durable.starts``), and
the ``ep`` template macro: the id functions of ``execution_plane.saga.keys``
(``{{ ep.workflow_id(dag.dag_id, params.request_id) }}``), so templates and Python derive ids the same way.

``crm_start=True`` lets the CRM webhook start the workflow (the DAG carries the tag ``crm_startable``; the
webhook validates the event's payload against the DAG's own params). ``fails_before_effects`` names tasks
that run before the workflow registers anything (e.g. a token check): their failure starts no compensation.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from airflow.sdk import Param, dag

from execution_plane.compat import fail_fast as fail_fast_compat
from execution_plane.compat import trigger_start
from execution_plane.defaults import START_DATE, default_args, tags_for
from execution_plane.durable import starts
from execution_plane.durable.params import id_param
from execution_plane.saga import keys

log = logging.getLogger(__name__)

CRM_STARTABLE_TAG = "crm_startable"
# Thousands of workflows park for days at once: a parked run holds no worker slot, and the scheduler skips
# it until something in it changes (execution_plane.compat.parked_runs).
MAX_ACTIVE_RUNS = 20_000


def compensation_callback(fails_before_effects: Collection[str] = ()) -> Callable[[Any], None]:
    """The DAG failure callback: start the workflow's compensation (REST API, deterministic run id)."""
    skip = frozenset(fails_before_effects)

    def start_compensation_on_failure(context: Any) -> None:
        from execution_plane.saga.callbacks import start_compensation_on_failure as start

        ti = context.get("task_instance") or context.get("ti")
        if ti is not None and ti.task_id in skip:
            # That task runs before anything is registered or sent: compensating by request_id would undo
            # another run's workflow that carries the same request_id (e.g. a forged token replayed).
            log.warning(
                "run %s failed at %s, before any side effect: nothing to compensate",
                context.get("run_id"),
                ti.task_id,
            )
            return
        start(context)

    return start_compensation_on_failure


def check_quiet_parking(dag: Any) -> None:
    """A durable run is examined by the scheduler only when something in it changed
    (execution_plane.compat.parked_runs): rules that need time rather than a change would be seen late."""
    if dag.dagrun_timeout is not None:
        raise ValueError(f"durable workflow {dag.dag_id!r}: no dagrun_timeout (a wait's length is a param)")
    past = sorted(task.task_id for task in dag.tasks if task.depends_on_past or task.wait_for_downstream)
    if past:
        raise ValueError(f"durable workflow {dag.dag_id!r}: depends_on_past / wait_for_downstream on {past}")


def durable_workflow(
    *,
    doc_md: str | None,
    params: Mapping[str, Param],
    tags: Sequence[str] = (),
    request_id_description: str = "Unique id of this request (e.g. the CRM's id): one request, one workflow",
    crm_start: bool = False,
    fails_before_effects: Collection[str] = (),
    fail_fast: bool = False,
    default_args_overrides: Mapping[str, Any] | None = None,
    max_active_runs: int = MAX_ACTIVE_RUNS,
) -> Callable[[Callable[[], None]], Any]:
    def decorate(fn: Callable[[], None]) -> Any:
        dag_id = fn.__name__
        all_tags = tags_for(dag_id, *tags)
        if crm_start:
            all_tags.append(CRM_STARTABLE_TAG)
        factory = dag(
            dag_id=dag_id,
            schedule=None,
            start_date=START_DATE,
            catchup=False,
            doc_md=doc_md,
            # A task's priority grows with the tasks before it: a resumed workflow's next step (and its
            # compensation) goes to a free worker before the first steps of a burst of new workflows.
            default_args=default_args(weight_rule="upstream", **dict(default_args_overrides or {})),
            tags=all_tags,
            max_active_runs=max_active_runs,
            fail_fast=fail_fast,
            on_failure_callback=compensation_callback(fails_before_effects),
            user_defined_macros={"ep": keys},
            params={keys.REQUEST_ID_PARAM: id_param(request_id_description), **params},
        )(fn)

        @functools.wraps(fn)
        def build(*args: Any, **kwargs: Any) -> Any:
            built = factory(*args, **kwargs)
            # Shapes Airflow 3.3.2 gets wrong, refused while the file is parsed (execution_plane.compat).
            fail_fast_compat.check_outcome_teardown(built)
            trigger_start.check_dag(built)
            check_quiet_parking(built)
            starts.pool_first_steps(built)
            return built

        return build

    return decorate
