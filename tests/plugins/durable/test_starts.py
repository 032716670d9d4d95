"""A new workflow's first steps (everything before its first wait) run in the pool ``workflow_starts``
(execution_plane.durable.starts), so a burst of new workflows leaves worker slots to the ones under way."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import TaskGroup, task

from execution_plane.durable import approval, durable_workflow, wait_for_event
from execution_plane.durable.starts import DEFAULT_POOL, STARTS_POOL, first_steps, is_wait

REPO = Path(__file__).resolve().parents[3]


@task
def work(n: int = 0) -> int:
    return n


def _dag() -> Any:
    @durable_workflow(doc_md="Doc", params={})
    def partner_approval() -> None:  # a name of the inventory (the factory checks)
        a = work.override(task_id="a")()
        b = work.override(task_id="b", pool="external_api")(a)  # a pool of its own: kept
        side = work.override(task_id="side")()  # parallel to the waits, before none of them: a first step
        gate = approval("gate", assignee="manager", subject="s", body="b")
        b >> gate
        after_gate = work.override(task_id="after_gate")()
        gate >> after_gate
        event = wait_for_event(
            "event", correlation_key="k", event_types=["x"], timeout_at="{{ data_interval_end }}"
        )
        after_gate >> event
        date = DateTimeSensorAsync(task_id="date", target_time="{{ data_interval_end }}")
        a >> date
        with TaskGroup("round") as round_group:
            mapped = work.override(task_id="mapped").expand(n=[1, 2])
        date >> round_group
        work.override(task_id="after_event")() << event
        del side, mapped

    return partner_approval()


def test_the_first_steps_are_the_tasks_before_every_wait() -> None:
    dag = _dag()
    waits = {t.task_id for t in dag.tasks if is_wait(t)}
    assert waits == {"gate", "event", "date"}
    assert [t.task_id for t in first_steps(dag)] == ["a", "b", "side"]
    pools = {t.task_id: t.pool for t in dag.tasks}
    assert pools["a"] == pools["side"] == STARTS_POOL
    assert pools["b"] == "external_api"  # its own pool kept
    # The waits (a resumed gate runs again on a worker) and everything after one stay in the default pool,
    # a mapped task too.
    for task_id in ("gate", "event", "date", "after_gate", "after_event", "round.mapped"):
        assert pools[task_id] == DEFAULT_POOL, task_id


def test_the_pool_reaches_the_serialized_dag() -> None:
    """What the scheduler reads: the serialized task carries the pool."""
    from airflow.serialization.serialized_objects import DagSerialization

    serialized = DagSerialization.from_dict(DagSerialization.to_dict(_dag()))
    assert serialized.get_task("a").pool == STARTS_POOL
    assert serialized.get_task("gate").pool == DEFAULT_POOL


def test_every_shipped_durable_dag_starts_in_the_pool_and_waits_outside_it() -> None:
    from airflow.dag_processing.dagbag import DagBag

    from devtools.dag_files import dag_files

    dags = {}
    for path in dag_files().values():
        bag = DagBag(dag_folder=str(path), safe_mode=False)
        assert not bag.import_errors, bag.import_errors
        dags.update(bag.dags)
    pooled = {dag_id: {t.task_id for t in dag.tasks if t.pool == STARTS_POOL} for dag_id, dag in dags.items()}
    for dag_id in ("partner_approval", "dd_room", "signature_commitment", "ma_offer", "pmi_program"):
        dag = dags[dag_id]
        assert pooled[dag_id] == {t.task_id for t in first_steps(dag) if t.pool in (STARTS_POOL,)}
        assert pooled[dag_id], dag_id
        assert not any(is_wait(t) for t in dag.tasks if t.task_id in pooled[dag_id])
    assert pooled["partner_approval"] == {"identify_partner", "fit_score"}
    # Not durable workflows: the compensation runner and the services keep the default pool.
    assert pooled["saga_compensation"] == set() and pooled["health_check"] == set()


def test_the_pool_exists_wherever_the_dags_run_and_leaves_worker_slots_free() -> None:
    """A task in a pool that does not exist is never scheduled: the settings every stack loads, the compose
    file's init and the Helm values' install commands create the same pools, this one with fewer slots than
    the shipped parallelism."""
    import configparser
    import re

    settings = yaml.safe_load((REPO / "airflow_settings.yaml").read_text())["airflow"]["pools"]
    slots = {p["pool_name"]: p["pool_slot"] for p in settings}
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(REPO / "config" / "airflow.cfg")
    assert 0 < slots[STARTS_POOL] < cfg.getint("core", "parallelism")
    for deploy_file in ("docker-compose.yaml", "deploy/helm/values.yaml"):  # compose's init, Helm's commands
        created = dict(re.findall(r"airflow pools set (\S+) (\d+)", (REPO / deploy_file).read_text()))
        assert {name: int(n) for name, n in created.items()} == slots, deploy_file


def test_a_timedelta_is_not_a_wait() -> None:
    assert not is_wait(timedelta(hours=1)) and not is_wait(work)
