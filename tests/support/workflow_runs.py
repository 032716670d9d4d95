"""What a workflow's dag.test() tests share: the DAG loaded as the DAG processor loads it (without its
failure callback, retries seconds apart), the REST calls a run makes recorded instead of sent (no API server
under dag.test), its compensation run the way production runs it, and reads of the business database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any


def load_dag(name: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    from devtools.dag_files import dag_files

    bag = DagBag(dag_folder=str(dag_files()[name]), safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    return bag.dags[name]


@contextmanager
def paused(dag_id: str) -> Iterator[None]:
    """dag.test() needs no scheduler; pausing keeps a live scheduler that shares this metadata database
    from picking up the test's tasks as well."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        model = session.get(DagModel, dag_id)
        was = model.is_paused if model else None
        if model:
            model.is_paused = True
    try:
        yield
    finally:
        if was is not None:
            with create_session() as session:
                session.get(DagModel, dag_id).is_paused = was


@contextmanager
def dag_under_test(dag_id: str) -> Iterator[Any]:
    """The DAG without its failure callback: in dag.test() Airflow 3.3.2 builds the callback's context with
    the required params unresolved and fails it (ParamValidationError ends dag.test()). The callback only
    asks the REST API to start saga_compensation; a test of a failure asks for it as the callback would."""
    dag = load_dag(dag_id)
    dag.on_failure_callback = None
    dag.has_on_failure_callback = False
    # Test speed only: the same retries, a second apart instead of the production backoff.
    for task in dag.tasks:
        task.retry_delay = timedelta(seconds=1)
        task.max_retry_delay = timedelta(seconds=1)
    with paused(dag_id):
        yield dag


def record_rest_calls(monkeypatch: Any) -> list[dict[str, Any]]:
    """What a run asks the REST API for, recorded: compensation starts (from ``end_badly``, the failure
    callback and the reconciler) and run notes. A second start of the same compensation answers False (a
    409, as production's deterministic run id makes it)."""
    calls: list[dict[str, Any]] = []

    def start(workflow_id: str, *, reason: str, bad_ending: str, source: str, api: Any = None) -> bool:
        calls.append(
            {"workflow_id": workflow_id, "reason": reason, "bad_ending": bad_ending, "source": source}
        )
        return len([c for c in calls if c.get("workflow_id") == workflow_id]) == 1

    class Api:
        def set_note(self, dag_id: str, run_id: str, note: str) -> None:
            calls.append({"note": note, "dag_id": dag_id, "run_id": run_id})

    monkeypatch.setattr("execution_plane.saga.outcomes.start_compensation", start)
    monkeypatch.setattr("execution_plane.saga.outcomes.AirflowApi", Api)
    monkeypatch.setattr("execution_plane.saga.callbacks.start_compensation", start)
    monkeypatch.setattr("execution_plane.saga.reconciler.start_compensation", start)
    return calls


def compensate(compensation_dag: Any, workflow_id: str, *, reason: str, bad_ending: str, source: str) -> Any:
    """Run saga_compensation for ``workflow_id`` with the conf a bad ending (or the callback) gives it."""
    return compensation_dag.test(
        run_conf={"workflow_id": workflow_id, "reason": reason, "bad_ending": bad_ending, "source": source}
    )


def compensate_as_asked(compensation_dag: Any, requested: list[dict[str, Any]], workflow_id: str) -> Any:
    """Run the compensation the workflow asked for (the first ask of ``workflow_id``)."""
    asks = [c for c in requested if c.get("workflow_id") == workflow_id]
    assert asks, f"nobody asked to compensate {workflow_id}: {requested}"
    first = asks[0]
    return compensate(
        compensation_dag,
        workflow_id,
        reason=first["reason"],
        bad_ending=first["bad_ending"],
        source=first["source"],
    )


def rows(db: Any, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        cur.execute(query, args)
        return list(cur.fetchall())


def one(db: Any, query: str, *args: Any) -> Any:
    (row,) = rows(db, query, *args)
    return row[0] if len(row) == 1 else row


def task_states(dr: Any) -> dict[str, str | None]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            ti.task_id: str(ti.state) if ti.state else None for ti in dr.get_task_instances(session=session)
        }


def ledger_steps(db: Any, workflow_id: str) -> list[tuple[str, str, str | None]]:
    """(step, status, undo) of each recorded step, in the order they were done."""
    return [
        (step, status, action)
        for step, status, action in rows(
            db,
            "SELECT step, status, compensation_action FROM saga_steps WHERE workflow_id = %s ORDER BY seq",
            workflow_id,
        )
    ]


def workflow_status(workflow_id: str) -> tuple[str, str | None] | None:
    """(status, reason) of the workflow as the toolkit's ledger holds it, or None if never registered."""
    from execution_plane.saga.steps import Saga

    with Saga.for_workflow(workflow_id, actor="test") as saga:
        row = saga.workflow()
    return (row["status"], row["reason"]) if row else None


class ParamsRun:
    """A ``Run`` for calling a step below the DAG (``durable.body_of``) that reads only the run's params."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
