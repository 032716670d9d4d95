"""Faults only a Celery deployment has: a worker SIGKILLed mid-task, a worker's Redis connection cut, a task
message delivered again. Nothing may be lost and nothing may happen twice.

Its own stack on CeleryExecutor (whatever EP_EXECUTOR says: these faults need Celery), two workers on the
machine's Redis under the stack's own key prefix, the test profile's databases. The runs are toolkit_probe
runs (send a message -> wait for an outside event -> approval -> complete, or compensate when rejected); the
sandbox's email API holds each send for a few seconds (a "slow" fault: the effect happens, late), so the
faults hit tasks in the middle of an outside call.

Redelivery is Redis's own: with ``task_acks_late`` (Airflow's default) a worker acknowledges a message only
after the task ran, and a message taken but not acknowledged goes back to the queue once the visibility
timeout passed (kombu's ``restore_visible``). The test makes that moment come now with kombu's own restore
(``QoS.restore_by_tag``, what the timeout triggers), on the messages it chose.

Checked from the outside only: the REST API (run and task states, try numbers), the sandbox's effect log
(each message sent once, each undo once), the business database (workflows completed or compensated), the
workers' logs (the redelivered message was received, and refused).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psutil
import pytest
import redis

from devtools import env as ep_env
from devtools.env import free_port
from devtools.stack import Stack, attach, project_dag_ids
from tests.chaos.support import process_title, task_processes
from tests.e2e.conftest import E2E_DAG_IDS, E2E_DAGS, clear_leftovers
from tests.support.airflow_client import AirflowClient
from tests.support.stack_env import QUIET_PARSING

pytestmark = [pytest.mark.chaos, pytest.mark.live, pytest.mark.timeout(1500)]

DAG = "toolkit_probe"
WORKERS = 2
SLOW_EMAIL_S = 12.0
# A task whose worker died is failed (then retried) once its heartbeat is this old (config/airflow.cfg: 60).
HEARTBEAT_TIMEOUT_S = 30


@dataclass
class Celery:
    stack: Stack
    af: AirflowClient
    sandbox: httpx.Client
    redis: redis.Redis
    prefix: str

    @property
    def broker_url(self) -> str:
        return self.stack.setup.env["AIRFLOW__CELERY__BROKER_URL"]

    def worker_log(self, worker: str) -> str:
        return (self.stack.log_dir / f"{worker}.log").read_text(errors="replace")

    def all_worker_logs(self) -> str:
        return "".join(self.worker_log(w) for w in self.stack.workers)


@pytest.fixture(scope="module")
def celery() -> Iterator[Celery]:
    clear_leftovers()
    saved = {k: os.environ.get(k) for k in ("EP_EXECUTOR", "EP_CELERY_WORKERS")}
    os.environ.update({"EP_EXECUTOR": "celery", "EP_CELERY_WORKERS": str(WORKERS)})
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
    try:
        setup = attach(
            ep_env.Ports(api=free_port(), sandbox=free_port()),
            {
                "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
                "EP_RECONCILER_GRACE_S": "3",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
                **QUIET_PARSING,
            },
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert setup.env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    prefix = setup.env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"]
    client = redis.Redis.from_url(setup.env["AIRFLOW__CELERY__BROKER_URL"])
    # Messages an earlier session left (their task instances were just failed by clear_leftovers).
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    stack = Stack(setup, log_dir=ep_env.airflow_home() / "celery-chaos-logs")
    try:
        stack.start_sandbox()
        stack.start_airflow()
        assert stack.workers == ("celery-worker-1", "celery-worker-2")
        stack.wait_healthy(timeout=240)
        stack.wait_dags_and_unpause(project_dag_ids() + E2E_DAG_IDS, timeout=240)
        yield Celery(
            stack=stack,
            af=AirflowClient(stack.api_url, setup.secrets.user_passwords),
            sandbox=httpx.Client(base_url=stack.sandbox_url, timeout=60),
            redis=client,
            prefix=prefix,
        )
    finally:
        stack.stop(timeout=40)
        client.close()


# ------------------------------------------------------------------------------------------------ helpers
def start_runs(c: Celery, approvals: list[bool], *, slow_email: bool = True) -> dict[str, bool]:
    """Trigger one probe run per entry (request id -> approve?); with ``slow_email`` each run's message is
    held SLOW_EMAIL_S in the email API."""
    if slow_email:
        fault = {"system": "email", "mode": "slow", "delay_s": SLOW_EMAIL_S, "count": len(approvals)}
        c.sandbox.post("/_sandbox/faults", json=fault).raise_for_status()
    runs = {f"celery-{uuid.uuid4().hex[:8]}": approve for approve in approvals}
    for request_id in runs:
        resp = c.af.trigger(
            DAG, run_id(request_id), {"request_id": request_id, "recipient": f"{request_id}@example.com"}
        )
        assert resp.status_code == 200, resp.text
    return runs


def run_id(request_id: str) -> str:
    return f"celery__{request_id}"


def slow_calls_pending(c: Celery) -> int:
    """Email sends the slow fault has not taken yet (a taken one is a call in flight, or done)."""
    faults = c.sandbox.get("/_sandbox/faults").json()["faults"]
    return sum(int(f["remaining"]) for f in faults if f["system"] == "email")


def worker_tree(c: Celery, worker: str) -> list[int]:
    """The pids of the worker: its main process, its pool, the task supervisors and the task processes
    (which Airflow puts in process groups of their own)."""
    main = c.stack.procs[worker].pid
    try:
        return [main, *(p.pid for p in psutil.Process(main).children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def worker_task_processes(c: Celery, worker: str) -> dict[str, int]:
    """ti.id -> pid of the task processes running under ``worker``."""
    tree = set(worker_tree(c, worker))
    return {ti_id: pid for ti_id, pid in task_processes().items() if pid in tree}


def send_hello_ti_ids(c: Celery, runs: dict[str, bool]) -> dict[str, str]:
    """ti.id of each run's send_hello (its current try) -> request id."""
    return {c.af.task_instance(DAG, run_id(r), "send_hello")["id"]: r for r in runs}


def unacked(c: Celery) -> dict[bytes, dict[str, Any]]:
    """The messages workers took and did not acknowledge: delivery tag -> {celery id, ti id, ...}."""
    found = {}
    for tag, raw in c.redis.hgetall(f"{c.prefix}unacked").items():
        message, _exchange, _routing_key = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        workload = json.loads(args[0])
        found[tag] = {
            "celery_id": message["headers"]["id"],
            "ti_id": workload["ti"]["id"],
            "task_id": workload["ti"]["task_id"],
            "try_number": workload["ti"]["try_number"],
        }
    return found


def redeliver(c: Celery, tags: list[bytes]) -> None:
    """The visibility timeout of these messages passes now: kombu puts each back on its queue, marked
    redelivered, as ``restore_visible`` does for messages older than the timeout."""
    from kombu import Connection

    with Connection(c.broker_url, transport_options={"global_keyprefix": c.prefix}) as conn:
        qos = conn.default_channel.qos
        for tag in tags:
            qos.restore_by_tag(tag.decode())


def received(c: Celery, celery_id: str) -> int:
    """How many times the workers took the Celery message ``celery_id``."""
    return c.all_worker_logs().count(f"Task execute_workload[{celery_id}] received")


def kill_worker(c: Celery, worker: str) -> list[int]:
    """SIGKILL the worker and every process under it (pool, task supervisors, task processes), as when its
    host or container dies; returns their pids, all checked dead."""
    proc = c.stack.procs[worker]
    title = process_title(proc.pid) or ""
    assert proc.poll() is None and f"-{worker}@" in title, (worker, title)
    members = worker_tree(c, worker)
    os.kill(proc.pid, signal.SIGSTOP)  # no new child while the others are killed
    for pid in members:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while any(process_title(pid) for pid in members):
        assert time.monotonic() < deadline, [pid for pid in members if process_title(pid)]
        time.sleep(0.1)
    return members


def redis_clients_of(c: Celery, worker: str) -> list[dict[str, str]]:
    """The worker's connections as Redis lists them (CLIENT LIST), found by their local ports."""
    ports = set()
    for pid in worker_tree(c, worker):
        with contextlib.suppress(psutil.Error):
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if conn.raddr and conn.raddr.port == 6379 and conn.status == psutil.CONN_ESTABLISHED:
                    ports.add(conn.laddr.port)
    return [
        client
        for client in c.redis.client_list()
        if client["addr"].startswith("127.0.0.1:") and int(client["addr"].rsplit(":", 1)[1]) in ports
    ]


def finish(c: Celery, runs: dict[str, bool]) -> None:
    """The outside event for every run, then each run's approval answered: every run ends as planned."""
    for request_id in runs:
        body = {
            "source": "partner",
            "event_id": f"go-{request_id}",
            "type": "probe.go",
            "correlation_key": f"{DAG}:{request_id}",
            "payload": {},
        }
        deliveries = c.sandbox.post("/_sandbox/events", json=body).json().get("deliveries", [])
        assert any(200 <= (d.get("status_code") or 0) < 300 for d in deliveries), deliveries
    c.af.wait(
        "every run waiting on its approval",
        lambda: all(c.af.task_states(DAG, run_id(r)).get("review") == "awaiting_input" for r in runs),
        timeout=600,
        interval=2,
    )
    time.sleep(1.5)  # nobody answers faster (execution_plane.compat.hitl_early_answer)
    for request_id, approve in runs.items():
        option = "Approve" if approve else "Reject"
        resp = c.af.answer(DAG, run_id(request_id), "review", option, user="manager", comment="celery")
        assert resp.status_code == 200, resp.text
    for request_id, approve in runs.items():
        assert c.af.wait_run(DAG, run_id(request_id), timeout=600) == ("success" if approve else "failed")
        if not approve:
            comp = c.af.wait_run("saga_compensation", f"compensate__{DAG}:{request_id}", timeout=600)
            assert comp == "success"


def effects_once(c: Celery, business_db: Any, runs: dict[str, bool]) -> dict[str, int]:
    """Every run ended as planned in the ledger, and in the sandbox each run's message was sent once and
    each rejected run's undo (the cancellation) sent once; returns the counts."""
    workflows = [f"{DAG}:{r}" for r in runs]
    with business_db.cursor() as cur:
        cur.execute(
            "SELECT workflow_id, status FROM saga_workflows WHERE workflow_id = ANY(%s)", (workflows,)
        )
        statuses = dict(cur.fetchall())
    assert statuses == {
        f"{DAG}:{r}": ("completed" if approve else "compensated") for r, approve in runs.items()
    }, statuses
    effects = c.sandbox.get("/_sandbox/effects", params={"system": "email"}).json()
    effects = effects["effects"] if isinstance(effects, dict) else effects
    mine = [e["payload"] for e in effects if str(e["payload"].get("to", "")).split("@")[0] in runs]
    per_message = Counter(p.get("message_id") for p in mine)
    assert all(n == 1 for n in per_message.values()), per_message
    hello = Counter(p["to"] for p in mine if p.get("subject") == "Hello")
    cancelled = Counter(p["to"] for p in mine if p.get("subject") == "Cancelled")
    assert hello == {f"{r}@example.com": 1 for r in runs}, hello
    assert cancelled == {f"{r}@example.com": 1 for r, approve in runs.items() if not approve}, cancelled
    return {"hello": sum(hello.values()), "cancelled": sum(cancelled.values())}


# ------------------------------------------------------------------------------------------------ the faults
def test_worker_killed_mid_task(celery: Celery, business_db: Any) -> None:
    """A worker dies (SIGKILL of its whole process group) while its tasks are inside the email call. Its
    tasks are retried on a worker (after the heartbeat timeout) and each message is sent once (the retry's
    call replays the first one's Idempotency-Key). The dead worker never acknowledged its messages: when
    Redis hands them out again, no task runs again."""
    c = celery
    c.sandbox.post("/_sandbox/reset").raise_for_status()
    runs = start_runs(c, [True, False, True, False])
    c.af.wait("every message send in flight", lambda: slow_calls_pending(c) == 0, timeout=300, interval=0.5)
    by_worker = {w: worker_task_processes(c, w) for w in c.stack.workers}
    victim = max(by_worker, key=lambda w: len(by_worker[w]))
    hello = send_hello_ti_ids(c, runs)
    killed_tis = {ti for ti in by_worker[victim] if ti in hello}
    assert killed_tis, by_worker
    held = {tag: m for tag, m in unacked(c).items() if m["ti_id"] in killed_tis}
    assert {m["ti_id"] for m in held.values()} == killed_tis, (held, killed_tis)

    killed_at = time.monotonic()
    members = kill_worker(c, victim)
    time.sleep(1.0)
    c.stack.start_component(victim)  # as its supervisor would (make run's does)
    c.stack.wait_workers(timeout=120)

    killed_runs = {hello[ti] for ti in killed_tis}
    for request_id in killed_runs:
        c.af.wait(
            f"{request_id}: send_hello retried and done",
            lambda r=request_id: (
                (ti := c.af.task_instance(DAG, run_id(r), "send_hello"))["state"] == "success"
                and ti["try_number"] >= 2
            ),
            timeout=HEARTBEAT_TIMEOUT_S + 300,
            interval=1,
        )
    recovered_s = time.monotonic() - killed_at
    others = set(runs) - killed_runs
    for request_id in others:
        assert c.af.task_instance(DAG, run_id(request_id), "send_hello")["try_number"] == 1

    # The dead worker's messages are still unacknowledged in Redis; their visibility timeout passes.
    still_held = unacked(c)
    assert set(held) <= set(still_held), (held, still_held)
    tries = {r: c.af.task_instance(DAG, run_id(r), "send_hello")["try_number"] for r in runs}
    seen_before = {m["celery_id"]: received(c, m["celery_id"]) for m in held.values()}
    redeliver(c, list(held))
    c.af.wait(
        "the redelivered messages taken by a worker",
        lambda: all(received(c, cid) > n for cid, n in seen_before.items()),
        timeout=120,
        interval=1,
    )
    c.af.wait("the redelivered messages settled", lambda: not set(held) & set(unacked(c)), timeout=120)
    finish(c, runs)
    # Their task instances were not run again: no new try, and (below) no second message.
    assert {r: c.af.task_instance(DAG, run_id(r), "send_hello")["try_number"] for r in runs} == tries
    counts = effects_once(c, business_db, runs)
    print(
        f"\ncelery worker kill: runs={len(runs)} worker={victim} processes killed={len(members)} "
        f"tasks killed mid-call={len(killed_tis)} retried and done within {recovered_s:.0f} s "
        f"(heartbeat timeout {HEARTBEAT_TIMEOUT_S} s); messages redelivered={len(held)}, run again=0; "
        f"effects {counts}"
    )


def test_worker_redis_connection_cut(celery: Celery, business_db: Any) -> None:
    """Redis drops every connection of one worker (CLIENT KILL) while its tasks are inside the email call,
    and runs are started meanwhile. The worker reconnects by itself (same process), the tasks in flight
    finish once, the runs started during the cut are not lost; whatever Redis still holds unacknowledged
    afterwards, handed out again, runs nothing twice."""
    c = celery
    c.sandbox.post("/_sandbox/reset").raise_for_status()
    runs = start_runs(c, [True, True, False, True])
    c.af.wait("every message send in flight", lambda: slow_calls_pending(c) == 0, timeout=300, interval=0.5)
    by_worker = {w: worker_task_processes(c, w) for w in c.stack.workers}
    victim = max(by_worker, key=lambda w: len(by_worker[w]))
    assert by_worker[victim], by_worker
    pid = c.stack.procs[victim].pid
    connections = redis_clients_of(c, victim)
    assert connections, f"no Redis connection of {victim} found"
    logged = {w: len(c.worker_log(w)) for w in c.stack.workers}
    cut_at = time.monotonic()
    for client in connections:
        c.redis.client_kill_filter(_id=client["id"])
    cut_ids = {client["id"] for client in connections}
    assert not cut_ids & {client["id"] for client in c.redis.client_list()}

    more = start_runs(c, [True, False], slow_email=False)  # published while the worker reconnects
    reconnected = c.af.wait(
        f"{victim} connected to Redis again",
        lambda: [x for x in redis_clients_of(c, victim) if x["id"] not in cut_ids],
        timeout=120,
        interval=0.5,
    )
    reconnect_s = time.monotonic() - cut_at
    assert c.stack.procs[victim].poll() is None and c.stack.procs[victim].pid == pid  # not restarted
    everything = {**runs, **more}
    for request_id in everything:
        c.af.wait_task_state(DAG, run_id(request_id), "send_hello", ("success",), timeout=300)

    # On reconnecting, the worker's channel put the messages it held back on the queue at once (kombu's
    # restore of unacknowledged messages): the copies of tasks still running were refused by a worker.
    refused_copies = sum(
        c.worker_log(w)[logged[w] :].count("Task already running elsewhere, ignoring redelivered message")
        for w in c.stack.workers
    )
    leftover = unacked(c)
    tries = {r: c.af.task_instance(DAG, run_id(r), "send_hello")["try_number"] for r in everything}
    seen_before = {m["celery_id"]: received(c, m["celery_id"]) for m in leftover.values()}
    redeliver(c, list(leftover))
    c.af.wait(
        "the redelivered messages taken by a worker",
        lambda: all(received(c, cid) > n for cid, n in seen_before.items()),
        timeout=120,
        interval=1,
    )
    finish(c, everything)
    assert {r: c.af.task_instance(DAG, run_id(r), "send_hello")["try_number"] for r in everything} == tries
    counts = effects_once(c, business_db, everything)
    print(
        f"\ncelery redis cut: runs={len(everything)} ({len(more)} started during the cut) worker={victim} "
        f"connections cut={len(connections)} reconnected={len(reconnected)} within {reconnect_s:.1f} s; "
        f"tries={dict(Counter(tries.values()))}; copies handed out again at the reconnection and refused="
        f"{refused_copies}; unacknowledged afterwards={len(leftover)}, redelivered, "
        f"run again=0; effects {counts}"
    )


def test_task_message_redelivered_while_running(celery: Celery, business_db: Any) -> None:
    """A message is handed out again while its task still runs (a visibility timeout shorter than the task,
    or a restore by a worker that took the first delivery for lost): the second worker finds the task
    running and drops the copy; the task finishes once, in its first try."""
    c = celery
    c.sandbox.post("/_sandbox/reset").raise_for_status()
    runs = start_runs(c, [True, False])
    c.af.wait("every message send in flight", lambda: slow_calls_pending(c) == 0, timeout=300, interval=0.5)
    hello = send_hello_ti_ids(c, runs)
    copies = {tag: m for tag, m in unacked(c).items() if m["ti_id"] in hello}
    assert {m["ti_id"] for m in copies.values()} == set(hello), (copies, hello)
    assert all(c.af.task_instance(DAG, run_id(r), "send_hello")["state"] == "running" for r in runs)
    redeliver(c, list(copies))
    ignored = [
        re.escape(f"[{m['celery_id']}] Task already running elsewhere, ignoring redelivered message")
        for m in copies.values()
    ]
    c.af.wait(
        "each copy refused by the worker that took it",
        lambda: all(re.search(pattern, c.all_worker_logs()) for pattern in ignored),
        timeout=120,
        interval=0.5,
    )
    for request_id in runs:
        assert c.af.task_instance(DAG, run_id(request_id), "send_hello")["state"] in ("running", "success")
    finish(c, runs)
    for request_id in runs:
        assert c.af.task_instance(DAG, run_id(request_id), "send_hello")["try_number"] == 1
    counts = effects_once(c, business_db, runs)
    print(
        f"\ncelery redelivery while running: runs={len(runs)} copies delivered={len(copies)}, "
        f"refused={len(ignored)}; tries=1; effects {counts}"
    )
