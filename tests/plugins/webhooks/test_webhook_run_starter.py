"""The run starter (``webhooks.starter``) on stored start requests, in the real databases: what the CRM route
answered 202 for is started once, whatever happens between the answer and the start.

Each test stores its requests as the route does (``db.insert_start_request``) and drives the starter's drain
itself, as an API server's starter thread would: one that died after answering, a workflow paused when its
turn comes, two API servers draining at once, a starter that died holding its claim, a run started by a
starter that died before it recorded so.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from execution_plane.webhooks import db, starter
from execution_plane.webhooks.app import STARTER
from tests.plugins.webhooks.webhook_support import PAUSED_DAG_ID, STARTABLE_DAG_ID

pytestmark = pytest.mark.usefixtures("startable", "no_starter_thread")

Rows = Callable[[str], list[dict[str, Any]]]


@pytest.fixture
def no_starter_thread() -> None:
    """This process's starter thread (an earlier test's app may have left it running) stays out: the tests
    drain themselves, and count attempts."""
    STARTER.stop()


@pytest.fixture
def store(tag: str) -> Callable[..., str]:
    """Store one start request as the CRM route does; returns its run id."""

    def store_one(dag_id: str = STARTABLE_DAG_ID, suffix: str = "") -> str:
        event = f"crm_{tag}{suffix}"
        conf = {"request_id": f"req_{tag}{suffix}", "amount": 3}
        earlier = db.insert_start_request(
            f"crm:{event}",
            f"crm:{dag_id}:{conf['request_id']}",
            {"event_id": event, "workflow": dag_id, "payload": conf},
            event_type="workflow.start_requested",
            dag_id=dag_id,
            run_id=f"crm__{event}",
            conf=conf,
        )
        assert earlier is None
        return f"crm__{event}"

    return store_one


@pytest.fixture
def request_row(business_db: Any) -> Callable[[str], dict[str, Any]]:
    def row(run_id: str) -> dict[str, Any]:
        with business_db.cursor() as cur:
            cur.execute(
                "SELECT outcome, attempts, last_error, ended_at,"
                " next_attempt_at > now() AS claimed_or_waiting FROM run_starts WHERE run_id = %s",
                (run_id,),
            )
            names = [d[0] for d in cur.description]
            return dict(zip(names, cur.fetchone(), strict=True))

    return row


def drain_all(startable: Any) -> int:
    """Drain until nothing is due (other tests' leftover requests are due too: they end the same way)."""
    total = 0
    while claimed := starter.drain_once(startable.keys()):
        total += claimed
    return total


def test_a_request_stored_by_a_server_that_died_is_started_by_the_next_drain(
    store: Callable[..., str], startable: Any, dag_runs: Rows, request_row: Callable[[str], dict[str, Any]]
) -> None:
    run_id = store()
    assert dag_runs(run_id) == []  # answered 202, then the server died: nothing started yet

    drain_all(startable)

    [run] = dag_runs(run_id)
    assert run["dag_id"] == STARTABLE_DAG_ID
    assert run["conf"]["amount"] == 3
    assert run["triggering_user_name"] == "webhook:crm"
    row = request_row(run_id)
    assert (row["outcome"], row["attempts"], row["last_error"]) == ("started", 1, None)
    assert row["ended_at"] is not None


def test_a_workflow_paused_when_its_turn_comes_keeps_the_request_until_it_is_unpaused(
    store: Callable[..., str],
    startable: Any,
    dag_runs: Rows,
    request_row: Callable[[str], dict[str, Any]],
    business_db: Any,
) -> None:
    run_id = store(PAUSED_DAG_ID)  # accepted while it ran; paused since

    drain_all(startable)

    assert dag_runs(run_id) == []
    row = request_row(run_id)
    assert row["outcome"] is None and row["attempts"] == 1 and row["claimed_or_waiting"]
    assert row["last_error"] == f"workflow_paused: workflow {PAUSED_DAG_ID!r} is paused in Airflow"

    from airflow.models import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.get_one(DagModel, PAUSED_DAG_ID).is_paused = False
    with business_db.cursor() as cur:  # the backoff passes
        cur.execute("UPDATE run_starts SET next_attempt_at = now() WHERE run_id = %s", (run_id,))
    drain_all(startable)

    assert [r["dag_id"] for r in dag_runs(run_id)] == [PAUSED_DAG_ID]
    assert request_row(run_id)["outcome"] == "started"
    assert request_row(run_id)["attempts"] == 2


def test_two_servers_draining_at_once_start_each_run_once(
    store: Callable[..., str], startable: Any, dag_runs: Rows, request_row: Callable[[str], dict[str, Any]]
) -> None:
    run_ids = [store(suffix=f"_{i}") for i in range(6)]

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: starter.drain_once(startable.keys(), limit=3), range(2)))

    # Another test process's starter may take some of them (the test databases are shared): whoever claims
    # a request, it is claimed once and its run started once.
    drain_all(startable)
    for run_id in run_ids:
        assert len(dag_runs(run_id)) == 1
        assert request_row(run_id)["outcome"] == "started"
        assert request_row(run_id)["attempts"] == 1  # claimed by one server only


def test_a_claim_whose_starter_died_is_taken_over_when_it_passes(
    store: Callable[..., str],
    startable: Any,
    dag_runs: Rows,
    request_row: Callable[[str], dict[str, Any]],
    business_db: Any,
) -> None:
    run_id = store()
    with business_db.cursor() as cur:  # a starter claimed it, then its server died mid-start
        cur.execute(
            "UPDATE run_starts SET attempts = 1, next_attempt_at = now() + interval '60 seconds'"
            " WHERE run_id = %s",
            (run_id,),
        )

    drain_all(startable)
    assert dag_runs(run_id) == []  # still someone else's

    with business_db.cursor() as cur:
        cur.execute("UPDATE run_starts SET next_attempt_at = now() WHERE run_id = %s", (run_id,))
    drain_all(startable)

    assert len(dag_runs(run_id)) == 1
    assert (request_row(run_id)["outcome"], request_row(run_id)["attempts"]) == ("started", 2)


def test_a_run_started_by_a_starter_that_died_before_recording_it_is_not_started_again(
    store: Callable[..., str],
    startable: Any,
    dag_runs: Rows,
    request_row: Callable[[str], dict[str, Any]],
    business_db: Any,
) -> None:
    run_id = store()
    drain_all(startable)
    with business_db.cursor() as cur:  # as if the outcome had never been written
        cur.execute(
            "UPDATE run_starts SET outcome = NULL, ended_at = NULL, next_attempt_at = now()"
            " WHERE run_id = %s",
            (run_id,),
        )

    drain_all(startable)

    assert len(dag_runs(run_id)) == 1
    assert request_row(run_id)["outcome"] == "duplicate"


def test_a_start_airflow_refuses_for_good_ends_refused_and_is_not_retried(
    store: Callable[..., str],
    startable: Any,
    dag_runs: Rows,
    request_row: Callable[[str], dict[str, Any]],
    business_db: Any,
) -> None:
    run_id = store()
    with business_db.cursor() as cur:  # the DAG's own Param(minimum=1) refuses it (e.g. a DAG changed since)
        cur.execute(
            "UPDATE run_starts SET conf = jsonb_set(conf, '{amount}', '0') WHERE run_id = %s", (run_id,)
        )

    drain_all(startable)
    drain_all(startable)

    assert dag_runs(run_id) == []
    row = request_row(run_id)
    assert (row["outcome"], row["attempts"]) == ("refused", 1)
    assert row["last_error"].startswith("invalid_params:")
