"""Crash every Airflow component while durable runs wait, deliver every webhook twice, and check that
nothing is lost or repeated.

Its own stack (not the shared live one: it kills things). N toolkit_probe runs are parked at different
stages (waiting on an outside event, waiting on a person); the scheduler, triggerer, dag-processor and API
server are each SIGKILLed at a random moment and restarted as an operator would; every outside event is
delivered twice; half the runs are approved, half rejected. Afterwards every run is terminal (completed or
compensated), each side effect happened once and each compensation once, and no accepted answer or event
was lost. Figures are printed.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devtools import env as ep_env
from devtools.env import free_port
from devtools.stack import Stack, attach, project_dag_ids
from tests.chaos.support import Kill, kill_component
from tests.e2e.conftest import E2E_DAG_IDS, E2E_DAGS, clear_leftovers
from tests.support.airflow_client import AirflowClient
from tests.support.stack_env import QUIET_PARSING

pytestmark = [pytest.mark.chaos, pytest.mark.live, pytest.mark.timeout(1500)]

N_RUNS = 20
DAG = "toolkit_probe"


@pytest.fixture(scope="module")
def chaos_stack() -> Iterator[Stack]:
    clear_leftovers()
    ports = ep_env.Ports(api=free_port(), sandbox=free_port())
    bundles = [
        {
            "name": "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {},
        },
        {
            "name": "e2e-tests",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(E2E_DAGS), "refresh_interval": 5},
        },
    ]
    setup = attach(
        ports,
        {
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
            "EP_RECONCILER_GRACE_S": "3",
            **QUIET_PARSING,
        },
    )
    stack = Stack(setup, log_dir=ep_env.airflow_home() / "chaos-logs")
    try:
        stack.start_sandbox()
        stack.start_airflow()
        stack.wait_healthy(timeout=180)
        stack.wait_dags_and_unpause(project_dag_ids() + E2E_DAG_IDS, timeout=180)
        yield stack
    finally:
        stack.stop()


def crash_and_restart(stack: Stack, component: str) -> Kill:
    """SIGKILL the running component (checked: its live process, dead by the signal), restart it later."""
    kill = kill_component(stack, component)
    time.sleep(random.uniform(0.5, 2.0))
    stack.start_component(component)
    return kill


def go_twice(sandbox: httpx.Client, request_id: str) -> int:
    """The outside system delivers its event twice (the sandbox's duplicate-delivery setting)."""
    body = {
        "source": "partner",
        "event_id": f"go-{request_id}",
        "type": "probe.go",
        "correlation_key": f"{DAG}:{request_id}",
        "payload": {},
    }
    accepted = 0
    for _ in range(2):
        for attempt in range(30):  # the API server may be down for a moment: the provider retries
            resp = sandbox.post("/_sandbox/events", json=body, timeout=60)
            deliveries = resp.json().get("deliveries", [])
            if any(200 <= (d.get("status_code") or 0) < 300 for d in deliveries):
                accepted += 1
                break
            time.sleep(1 + attempt * 0.2)
    return accepted


def test_runs_survive_component_crashes(chaos_stack: Stack, business_db: Any) -> None:
    random.seed(int(time.time()))
    af = AirflowClient(chaos_stack.api_url, chaos_stack.setup.secrets.user_passwords)
    sandbox = httpx.Client(base_url=chaos_stack.sandbox_url)
    sandbox.post("/_sandbox/reset").raise_for_status()  # the effect log counts this test's effects only
    runs = {f"chaos-{uuid.uuid4().hex[:8]}": i % 2 == 0 for i in range(N_RUNS)}  # request -> approve?
    for request_id in runs:
        resp = af.trigger(
            DAG, f"chaos__{request_id}", {"request_id": request_id, "recipient": f"{request_id}@example.com"}
        )
        assert resp.status_code == 200, resp.text
    kills: list[Kill] = []

    # Stage 1: all runs parked on their outside event; crash the triggerer and the scheduler under them.
    af.wait(
        "runs parked on the outside event",
        lambda: (
            sum(af.task_states(DAG, f"chaos__{r}").get("wait_for_go") == "deferred" for r in runs)
            >= N_RUNS * 0.8
        ),
        timeout=300,
        interval=2,
    )
    for component in ("triggerer", "scheduler"):
        kills.append(crash_and_restart(chaos_stack, component))
    # Events arrive (twice each) while the dag-processor and the API server crash.
    delivered = 0
    for i, request_id in enumerate(runs):
        if i == N_RUNS // 3:
            kills.append(crash_and_restart(chaos_stack, "dag-processor"))
        if i == 2 * N_RUNS // 3:
            kills.append(crash_and_restart(chaos_stack, "api-server"))
            chaos_stack.wait_http(f"{chaos_stack.api_url}/api/v2/monitor/health", "api", 120)
        delivered += go_twice(sandbox, request_id)
    assert delivered == 2 * N_RUNS  # every delivery was eventually accepted (2xx): none may be lost

    # Stage 2: runs parked on a person; crash the scheduler again, then answer (people are not instant).
    af.wait(
        "runs waiting on a person",
        lambda: (
            sum(af.task_states(DAG, f"chaos__{r}").get("review") == "awaiting_input" for r in runs) == N_RUNS
        ),
        timeout=600,
        interval=2,
    )
    kills.append(crash_and_restart(chaos_stack, "scheduler"))
    time.sleep(1.5)
    answered = 0
    for request_id, approve in runs.items():
        resp = af.answer(
            DAG,
            f"chaos__{request_id}",
            "review",
            "Approve" if approve else "Reject",
            user="manager",
            comment="chaos",
        )
        assert resp.status_code == 200, resp.text
        answered += 1

    # Every run terminal; rejected ones compensated.
    for request_id, approve in runs.items():
        assert af.wait_run(DAG, f"chaos__{request_id}", timeout=600) == ("success" if approve else "failed")
    for request_id, approve in runs.items():
        if not approve:
            comp = af.wait_run("saga_compensation", f"compensate__{DAG}:{request_id}", timeout=600)
            assert comp == "success"
    workflows = [f"{DAG}:{r}" for r in runs]
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT status, count(*) FROM saga_workflows WHERE workflow_id = ANY(%s) GROUP BY status",
            (workflows,),
        )
        statuses = dict(cur.fetchall())
        cur.execute(
            "SELECT correlation_key, count(*) FROM external_events WHERE correlation_key = ANY(%s)"
            " GROUP BY correlation_key",
            (workflows,),
        )
        events_per_run = dict(cur.fetchall())
        cur.execute(
            "SELECT workflow_id, status, decided_by, comment FROM approval_requests"
            " WHERE workflow_id = ANY(%s)",
            (workflows,),
        )
        decisions = {row[0]: row[1:] for row in cur.fetchall()}
        cur.execute(
            "SELECT workflow_id, count(*) FROM saga_steps"
            " WHERE workflow_id = ANY(%s) AND status = 'compensated' GROUP BY workflow_id",
            (workflows,),
        )
        compensated_steps = dict(cur.fetchall())
    assert statuses == {"completed": N_RUNS // 2, "compensated": N_RUNS // 2}, statuses
    # Nothing accepted was lost: each run's event stored (once: the duplicates ignored), each answer recorded.
    lost_events = [w for w in workflows if events_per_run.get(w) != 1]
    lost_answers = [
        w
        for w, approve in zip(workflows, runs.values(), strict=True)
        if decisions.get(w) != ("approved" if approve else "rejected", "manager", "chaos")
    ]
    lost = len(lost_events) + len(lost_answers)
    rejected = {f"{DAG}:{r}" for r, approve in runs.items() if not approve}

    effects = httpx.get(f"{chaos_stack.sandbox_url}/_sandbox/effects", params={"system": "email"}).json()
    effects = effects["effects"] if isinstance(effects, dict) else effects
    # A message is one message id (workflow, step, recipient, template): sent more than once = a duplicate.
    per_message = Counter(e["payload"].get("message_id") for e in effects)
    duplicates = {k: n for k, n in per_message.items() if n > 1}
    mine = [e["payload"] for e in effects if str(e["payload"].get("to", "")).startswith("chaos-")]
    hello = Counter(p["to"] for p in mine if p.get("subject") == "Hello")
    cancelled = Counter(p["to"] for p in mine if p.get("subject") == "Cancelled")
    print(
        f"\nchaos: runs={N_RUNS} kills={dict(Counter(k.target for k in kills))} events delivered={delivered}"
        f" (2 per run) stored={sum(events_per_run.values())} answers={answered} effects: "
        f"hello={sum(hello.values())} cancelled={sum(cancelled.values())} "
        f"compensated steps={sum(compensated_steps.values())} duplicates={len(duplicates)} lost={lost}"
    )
    assert lost_events == [] and lost_answers == [], (lost_events, lost_answers)
    assert duplicates == {}
    # One hello per run, and per rejected run its one undoable step undone and its undo (the cancellation)
    # sent once; nothing undone for an approved run.
    assert hello == {f"{r}@example.com": 1 for r in runs}, hello
    assert compensated_steps == dict.fromkeys(rejected, 1), compensated_steps
    assert cancelled == {f"{r}@example.com": 1 for r, approve in runs.items() if not approve}, cancelled
    # Each component killed while it ran (checked at each kill), as often as the plan above says.
    assert Counter(k.target for k in kills) == {
        "triggerer": 1,
        "scheduler": 2,
        "dag-processor": 1,
        "api-server": 1,
    }
