"""bench/parked_workflows.py's copies of a parked workflow (the curve's points past its real parked
workflows): every row the scheduler and the triggerer read, copied on this worker's own Airflow metadata
database; each copy's deferred wait on a trigger of its own that no triggerer has picked up yet."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest

from bench.parked_workflows import copy_runs

DAG = "bench_copy_probe"
TRIGGER = "execution_plane.triggers.external_event.ExternalEventTrigger"


class Meta:
    """The part of ``bench.harness.Bench`` that ``copy_runs`` uses: the metadata connection and ``q``."""

    def __init__(self, conn: Any) -> None:
        self.meta = conn

    def q(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.meta.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []


@pytest.fixture
def meta() -> Iterator[Meta]:
    url = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg2://", "postgresql://")
    conn = psycopg2.connect(url)
    conn.autocommit = True
    m = Meta(conn)
    yield m
    m.q("DELETE FROM trigger WHERE kwargs LIKE %s", (f"%{DAG}%",))
    m.q("DELETE FROM dag_run WHERE dag_id = %s", (DAG,))
    conn.close()


def park_template(m: Meta, run_id: str) -> tuple[datetime, datetime]:
    """A run parked the way the shipped durable DAGs park: one task done, one awaiting input (HITL), one
    deferred on a trigger a triggerer holds, one waiting behind them."""
    decided = datetime.now(UTC) - timedelta(minutes=5)
    touched = decided - timedelta(minutes=1)
    m.q(
        "INSERT INTO dag_run (dag_id, run_id, run_type, run_after, state, conf, last_scheduling_decision)"
        " VALUES (%s, %s, 'manual', now(), 'running', %s, %s)",
        (DAG, run_id, json.dumps({"request_id": run_id}), decided),
    )
    trigger_id = m.q(
        "INSERT INTO trigger (classpath, kwargs, created_date, triggerer_id) VALUES (%s, %s, now(), 7)"
        " RETURNING id",
        (TRIGGER, json.dumps({"key": f"{DAG}:x"})),
    )[0][0]
    for task_id, state, trigger in (
        ("first", "success", None),
        ("gate", "awaiting_input", None),
        ("signature", "deferred", trigger_id),
        ("after", None, None),
    ):
        ti_id = str(uuid.uuid4())
        m.q(
            "INSERT INTO task_instance (id, task_id, dag_id, run_id, try_number, pool, pool_slots, state,"
            " trigger_id, updated_at) VALUES (%s, %s, %s, %s, 1, 'default_pool', 1, %s, %s, %s)",
            (ti_id, task_id, DAG, run_id, state, trigger, touched),
        )
        if task_id == "gate":
            m.q(
                "INSERT INTO hitl_detail (ti_id, options, subject, params, created_at, params_input,"
                " assignees) VALUES (%s, %s, 'Approve?', '{}', now(), '{}', %s)",
                (ti_id, json.dumps(["Approve", "Reject"]), json.dumps([{"id": "manager"}])),
            )
    return decided, touched


def test_each_copy_is_parked_like_its_template_with_a_trigger_of_its_own(meta: Meta) -> None:
    template = f"t-{uuid.uuid4().hex[:8]}"
    decided, touched = park_template(meta, template)
    copies = [f"{template}-copy-{i}" for i in range(3)]

    copy_runs(meta, DAG, template, copies)  # type: ignore[arg-type]

    runs = meta.q(
        "SELECT run_id, state, conf, last_scheduling_decision FROM dag_run WHERE dag_id = %s ORDER BY run_id",
        (DAG,),
    )
    assert [r[0] for r in runs] == sorted([template, *copies])
    assert {(r[1], json.dumps(r[2]), r[3]) for r in runs} == {
        ("running", json.dumps({"request_id": template}), decided)
    }
    tis = meta.q(
        "SELECT run_id, task_id, state, updated_at, trigger_id, id FROM task_instance WHERE dag_id = %s",
        (DAG,),
    )
    assert len(tis) == 4 * 4 and len({ti[5] for ti in tis}) == 16  # ids of their own
    by_run: dict[str, dict[str, tuple[Any, ...]]] = {}
    for ti in tis:
        by_run.setdefault(ti[0], {})[ti[1]] = ti
    for run_id in copies:
        assert {t: (v[2], v[3]) for t, v in by_run[run_id].items()} == {
            "first": ("success", touched),
            "gate": ("awaiting_input", touched),
            "signature": ("deferred", touched),
            "after": (None, touched),
        }
    signature_triggers = [by_run[r]["signature"][4] for r in [template, *copies]]
    assert len(set(signature_triggers)) == 4  # a trigger each
    copied = meta.q(
        "SELECT classpath, kwargs, triggerer_id FROM trigger WHERE id = ANY(%s)", (signature_triggers[1:],)
    )
    assert {(c[0], c[1], c[2]) for c in copied} == {(TRIGGER, json.dumps({"key": f"{DAG}:x"}), None)}
    hitl = meta.q(
        "SELECT t.run_id, h.subject, h.assignees::text FROM hitl_detail h"
        " JOIN task_instance t ON t.id = h.ti_id WHERE t.dag_id = %s",
        (DAG,),
    )
    assert sorted(h[0] for h in hitl) == sorted([template, *copies])
    assert {(h[1], h[2]) for h in hitl} == {("Approve?", json.dumps([{"id": "manager"}]))}


def test_a_copy_that_cannot_be_made_leaves_nothing_behind(meta: Meta) -> None:
    template = f"t-{uuid.uuid4().hex[:8]}"
    park_template(meta, template)
    copies = [f"{template}-copy-0", template]  # the second one exists already: the run's unique key refuses

    with pytest.raises(psycopg2.errors.UniqueViolation):
        copy_runs(meta, DAG, template, copies)  # type: ignore[arg-type]

    assert meta.q("SELECT count(*) FROM dag_run WHERE dag_id = %s", (DAG,)) == [(1,)]
    assert meta.q("SELECT count(*) FROM task_instance WHERE dag_id = %s", (DAG,)) == [(4,)]
    assert meta.q("SELECT count(*) FROM trigger WHERE kwargs LIKE %s", (f"%{DAG}%",)) == [(1,)]


def test_a_copy_is_unsettled_while_the_scheduler_has_news_for_it(meta: Meta) -> None:
    from bench.parked_workflows import unsettled

    template = f"t-{uuid.uuid4().hex[:8]}"
    park_template(meta, template)  # its tasks were updated a minute before its last decision
    copies = [f"{template}-copy-{i}" for i in range(2)]
    copy_runs(meta, DAG, template, copies)  # type: ignore[arg-type]
    assert unsettled(meta, copies) == 0  # type: ignore[arg-type]

    # A task updated within the patch's margin of the run's last decision is news until the next decision.
    meta.q(
        "UPDATE task_instance SET updated_at = now() WHERE dag_id = %s AND run_id = %s AND task_id = 'gate'",
        (DAG, copies[1]),
    )
    assert unsettled(meta, copies) == 1  # type: ignore[arg-type]
    meta.q(
        "UPDATE dag_run SET last_scheduling_decision = now() + interval '10 s' WHERE run_id = %s",
        (copies[1],),
    )
    assert unsettled(meta, copies) == 0  # type: ignore[arg-type]
