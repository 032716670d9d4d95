"""The live stack the benchmarks drive, and the small tools they share (REST, webhooks, metadata reads).

The stack is the project's own (`devtools.stack.Stack` + `attach()`, as the live tests start it) on free
loopback ports, plus an extra DAG bundle with bench/dags. Actions go through public interfaces (REST API,
signed webhooks, sandbox routes); observations (task end dates, states, pg_stat_activity) are read straight
from the databases, so polling for results does not load the API server that also hosts the webhook ingress.
"""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg2

from devtools import env as ep_env
from devtools.env import free_port
from devtools.stack import Stack, attach, project_dag_ids, read_state
from include.security.hmac_signing import signed_headers
from tests.support.airflow_client import AirflowClient

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
BENCH_DAGS = BENCH / "dags"
BENCH_DAG_IDS = ["bench_event_wait", "bench_parked", "bench_naive_parked", "bench_hitl", "bench_poke"]
LISTENER_APP_PREFIX = "ep-external-events:"  # execution_plane.triggers.listener.application_name()
NAIVE_APP_PREFIX = "ep-bench-naive:"  # bench.triggers.application_name()


def profiles_dir() -> Path:
    """Raw py-spy profiles (large; the results JSON keeps their summaries)."""
    path = ep_env.airflow_home() / "profiles"
    path.mkdir(parents=True, exist_ok=True)
    return path


def bytecode_env() -> dict[str, str]:
    """Processes cache bytecode, as a deployment does, but under .local/ (a caller's PYTHONDONTWRITEBYTECODE=1
    would make every task process and cold parse compile the project's files from source each time)."""
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(ep_env.airflow_home() / "pycache")}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ----------------------------------------------------------------------------------------------- stats
def pct(values: Iterable[float], q: float) -> float | None:
    data = sorted(values)
    if not data:
        return None
    k = (len(data) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def summary(values: list[float], digits: int = 4) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(pct(values, 0.5) or 0, digits),
        "p95": round(pct(values, 0.95) or 0, digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "mean": round(statistics.fmean(values), digits),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


# ----------------------------------------------------------------------------------------------- stack
def metadata_url() -> str:
    state = read_state()
    return str(state["env"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).replace(  # type: ignore[index]
        "postgresql+psycopg2://", "postgresql://"
    )


def business_url() -> str:
    return str(read_state()["business_db_url"])


def pg_port() -> int:
    return int(read_state()["settings_values"]["EP_PG_PORT"])  # type: ignore[index]


def clear_leftovers() -> None:
    """As tests/e2e/conftest.py: an earlier (killed) bench session's runs must not resume in this one.
    Only ever on the bench profile's own databases (bench.run refuses other profiles)."""
    conn = psycopg2.connect(metadata_url())
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE task_instance SET state = 'failed', trigger_id = NULL WHERE state IN"
                " ('deferred', 'awaiting_input', 'running', 'queued', 'scheduled', 'up_for_retry',"
                " 'up_for_reschedule')"
            )
            cur.execute("DELETE FROM trigger")
            cur.execute("UPDATE dag_run SET state = 'failed' WHERE state IN ('running', 'queued')")
    finally:
        conn.close()


class Bench:
    """One running stack plus clients."""

    def __init__(self, extra_env: dict[str, str] | None = None, ports: ep_env.Ports | None = None) -> None:
        self.ports = ports or ep_env.Ports(api=free_port(), sandbox=free_port())
        self.last_http_s = 0.0  # round trip of the last webhook or answer request
        bundles = [
            {
                "name": "dags-folder",
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {},
            },
            {
                "name": "bench",
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(BENCH_DAGS), "refresh_interval": 5},
            },
        ]
        self.base_env = {
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # Scheduler loop time ("Ran scheduling loop in N ms") is logged at DEBUG by this logger only.
            "AIRFLOW__LOGGING__NAMESPACE_LEVELS": "airflow.jobs.scheduler_job_runner=DEBUG",
            **bytecode_env(),
            **(extra_env or {}),
        }
        self.setup = attach(self.ports, self.base_env)
        self.log_dir = ep_env.airflow_home() / "bench-logs"
        self.stack = Stack(self.setup, log_dir=self.log_dir)
        self.extra_stacks: list[Stack] = []
        self.api = AirflowClient(self.stack.api_url, self.setup.secrets.user_passwords)
        self.http = httpx.Client(base_url=self.stack.api_url, timeout=30)
        self.sandbox = httpx.Client(base_url=self.stack.sandbox_url, timeout=60)
        self.meta = psycopg2.connect(metadata_url())
        self.meta.autocommit = True
        self.biz = psycopg2.connect(business_url())
        self.biz.autocommit = True

    def start(self) -> float:
        started = time.monotonic()
        for path in self.log_dir.glob("*.log"):
            path.unlink()
        # The sandbox starts from nothing, as the bench's databases do (clear_leftovers): its state file, kept
        # from earlier runs, had grown to 25 MB, rewritten at each change, and its CPU slowed every figure.
        self.stack.sandbox_state.unlink(missing_ok=True)
        self.stack.start_sandbox()
        self.stack.start_airflow()
        self.stack.wait_healthy(timeout=180)
        self.stack.wait_dags_and_unpause(project_dag_ids() + BENCH_DAG_IDS, timeout=240)
        return time.monotonic() - started

    def stop(self) -> None:
        for extra in self.extra_stacks:
            extra.stop()
        self.stack.stop()
        for conn in (self.meta, self.biz):
            conn.close()

    def restart_component(self, name: str, extra_env: dict[str, str] | None = None) -> float:
        """Replace a running Airflow component by a fresh one (its own env on top of the bench's); returns
        the seconds until the new process's job heartbeats. Used for config before/after comparisons
        (scheduler) and for a clean memory baseline (triggerer)."""
        job_type = {"scheduler": "SchedulerJob", "triggerer": "TriggererJob"}[name]
        last = self.q("SELECT coalesce(max(id), 0) FROM job WHERE job_type = %s", (job_type,))[0][0]
        started = time.monotonic()
        owner = next(s for s in [*self.extra_stacks[::-1], self.stack] if name in s.procs)
        proc = owner.procs.pop(name)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        setup = attach(self.ports, {**self.base_env, **(extra_env or {})})
        extra = Stack(setup, log_dir=self.log_dir)
        extra.start_component(name)
        self.extra_stacks.append(extra)
        self.wait_until(
            f"new {name} heartbeating",
            lambda: self.q(
                "SELECT 1 FROM job WHERE job_type = %s AND id > %s AND state = 'running'"
                " AND latest_heartbeat > now() - interval '10 seconds'",
                (job_type, last),
            ),
            120,
            0.5,
        )
        return time.monotonic() - started

    def component_proc(self, name: str) -> subprocess.Popen[bytes]:
        for stack in [*self.extra_stacks[::-1], self.stack]:
            if name in stack.procs:
                return stack.procs[name]
        raise KeyError(name)

    def component_pids(self, name: str) -> list[int]:
        """The component's process and all its descendants."""
        try:
            root = psutil.Process(self.component_proc(name).pid)
            return [root.pid, *(p.pid for p in root.children(recursive=True))]
        except (KeyError, psutil.NoSuchProcess):
            return []

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    # ------------------------------------------------------------------------------------------- actions
    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> None:
        resp = self.api.trigger(dag_id, run_id, conf or {})
        if resp.status_code not in (200, 409):
            raise RuntimeError(f"trigger {dag_id}/{run_id}: {resp.status_code} {resp.text[:300]}")

    def trigger_many(self, dag_id: str, run_ids: list[str], workers: int = 4) -> float:
        """Start runs through the REST API, `workers` requests in flight; returns seconds taken."""
        started = time.monotonic()
        clients = [
            AirflowClient(self.stack.api_url, self.setup.secrets.user_passwords) for _ in range(workers)
        ]

        def chunk(index: int) -> None:
            client = clients[index]
            for run_id in run_ids[index::workers]:
                for attempt in range(5):
                    resp = client.trigger(dag_id, run_id, {})
                    if resp.status_code in (200, 409):
                        break
                    time.sleep(0.5 * (attempt + 1))
                else:
                    raise RuntimeError(f"trigger {dag_id}/{run_id}: {resp.status_code} {resp.text[:200]}")

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(chunk, range(workers)))
        return time.monotonic() - started

    def webhook(self, correlation_key: str, event_type: str = "bench.go", source: str = "partner") -> float:
        """POST a signed outside event to the ingress; returns the time.time() the request was sent.

        From the send, not the 202: the ingress may end the waiting task before it answers (its fast path),
        so a latency from the answer would leave out the work that ended it. ``last_http_s`` keeps the round
        trip."""
        body = json.dumps(
            {
                "event_id": f"b-{uuid.uuid4().hex[:16]}",
                "type": event_type,
                "correlation_key": correlation_key,
                "payload": {},
                "occurred_at": datetime.now(UTC).isoformat(),
            },
            separators=(",", ":"),
        ).encode()
        headers = signed_headers(self.setup.secrets.webhook_events_secret, body, int(time.time()))
        sent = time.time()
        resp = self.http.post(f"/webhooks/events/{source}", content=body, headers=headers)
        self.last_http_s = time.time() - sent
        if resp.status_code != 202:
            raise RuntimeError(f"webhook refused: {resp.status_code} {resp.text[:300]}")
        return sent

    def answer(
        self, dag_id: str, run_id: str, task_id: str, option: str = "Approve", user: str = "manager"
    ) -> float:
        """Answer a HITL task through the REST API; returns the time.time() the request was sent (as
        ``webhook``: the two paths are measured from the same point)."""
        sent = time.time()
        resp = self.api.answer(dag_id, run_id, task_id, option, user=user, comment="bench")
        self.last_http_s = time.time() - sent
        if resp.status_code != 200:
            raise RuntimeError(f"answer {dag_id}/{run_id}/{task_id}: {resp.status_code} {resp.text[:300]}")
        return sent

    # ------------------------------------------------------------------------------------------- reads
    def q(self, sql: str, params: tuple[Any, ...] = (), *, db: str = "meta") -> list[tuple[Any, ...]]:
        conn = self.meta if db == "meta" else self.biz
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def ti(self, dag_id: str, run_id: str, task_id: str) -> tuple[str | None, float | None, float | None]:
        rows = self.q(
            "SELECT state, start_date, end_date FROM task_instance WHERE dag_id = %s AND run_id = %s"
            " AND task_id = %s AND map_index = -1",
            (dag_id, run_id, task_id),
        )
        if not rows:
            return None, None, None
        state, start, end = rows[0]
        return state, ts(start), ts(end)

    def wait_ti(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: tuple[str, ...],
        timeout: float = 120,
        interval: float = 0.02,
    ) -> tuple[str, float | None, float | None]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state, start, end = self.ti(dag_id, run_id, task_id)
            if state in states:
                return state, start, end
            if state in ("failed", "upstream_failed") and "failed" not in states:
                raise RuntimeError(f"{dag_id}/{run_id}/{task_id} {state}")
            time.sleep(interval)
        raise TimeoutError(f"{dag_id}/{run_id}/{task_id} not in {states} within {timeout:.0f} s")

    def count_tis(self, dag_id: str, run_ids: list[str], task_id: str, state: str) -> int:
        rows = self.q(
            "SELECT count(*) FROM task_instance WHERE dag_id = %s AND task_id = %s AND state = %s"
            " AND run_id = ANY(%s)",
            (dag_id, task_id, state, run_ids),
        )
        return int(rows[0][0])

    def running_triggers(self, dag_id: str, run_ids: list[str], task_id: str = "wait") -> int:
        """Deferred task instances whose trigger a triggerer has picked up."""
        rows = self.q(
            "SELECT count(*) FROM task_instance ti JOIN trigger t ON t.id = ti.trigger_id"
            " WHERE ti.dag_id = %s AND ti.task_id = %s AND ti.state = 'deferred' AND ti.run_id = ANY(%s)"
            " AND t.triggerer_id IS NOT NULL",
            (dag_id, task_id, run_ids),
        )
        return int(rows[0][0])

    def wait_until(self, what: str, check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(interval)
        raise TimeoutError(f"{what}: not reached within {timeout:.0f} s (last {last!r})")

    def triggerer_pg_connections(self) -> dict[str, Any]:
        """Postgres backends held by the triggerer's process tree, by database and application_name."""
        pids = set(self.component_pids("triggerer"))
        ports: set[int] = set()
        for pid in pids:
            try:
                for c in psutil.Process(pid).net_connections(kind="tcp"):
                    if c.raddr and c.raddr.port == pg_port() and c.status == psutil.CONN_ESTABLISHED:
                        ports.add(c.laddr.port)
            except psutil.NoSuchProcess:
                continue
        rows = self.q(
            "SELECT datname, coalesce(application_name, ''), client_port FROM pg_stat_activity"
            " WHERE backend_type = 'client backend'"
        )
        mine = [(d, a) for d, a, p in rows if p in ports]
        by: dict[str, int] = {}
        for d, a in mine:
            label = f"{d}/{a.split(':')[0] or '-'}"
            by[label] = by.get(label, 0) + 1
        listener = sum(1 for _, a, _p in rows if a.startswith(LISTENER_APP_PREFIX))
        naive = sum(1 for _, a, _p in rows if a.startswith(NAIVE_APP_PREFIX))
        listener_pids = {int(a.split(":")[1]) for _, a, _p in rows if a.startswith(LISTENER_APP_PREFIX)}
        return {
            "total": len(mine),
            "by_db_app": by,
            "listener_app_name": listener,
            "naive_app_name": naive,
            "listener_in_triggerer_tree": bool(listener_pids & pids) if listener_pids else None,
            "server_total": len(rows),
        }

    def postgres_pids(self) -> list[int]:
        """The bench's own Postgres server (postmaster listening on its port) and its backends."""
        marker = f"-p {pg_port()}"
        for proc in psutil.process_iter(["name", "cmdline"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            if proc.info["name"] == "postgres" and marker in cmd:
                try:
                    return [proc.pid, *(c.pid for c in proc.children(recursive=True))]
                except psutil.NoSuchProcess:
                    return []
        return []

    def memory(self, name: str) -> dict[str, float]:
        """PSS and RSS (MiB) of a component's process tree."""
        pss = rss = 0.0
        for pid in self.component_pids(name):
            try:
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1]) / 1024
        return {"pss_mib": round(pss, 1), "rss_mib": round(rss, 1)}

    def cpu_seconds(self, name: str) -> float:
        total = 0.0
        pids = self.postgres_pids() if name == "postgres" else self.component_pids(name)
        for pid in pids:
            try:
                # children_*: the task processes a LocalExecutor worker already reaped
                t = psutil.Process(pid).cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.NoSuchProcess:
                continue
        return total


def scheduler_loops(path: Path, start_offset: int, end_offset: int | None = None) -> list[float]:
    """Durations (ms) of the scheduler loops logged between two byte offsets of the scheduler log."""
    with open(path, "rb") as handle:
        handle.seek(start_offset)
        data = handle.read() if end_offset is None else handle.read(max(end_offset - start_offset, 0))
    out = []
    marker = b"Ran scheduling loop in "
    for line in data.splitlines():
        i = line.find(marker)
        if i >= 0:
            try:
                out.append(float(line[i + len(marker) :].split()[0]))
            except ValueError:
                continue
    return out


def py_spy_start(
    pid: int, seconds: float, out: Path, *, subprocesses: bool = False, idle: bool = False
) -> subprocess.Popen[bytes]:
    """Sample a process with py-spy (raw collapsed stacks to `out`); wait on the returned process."""
    argv = [
        str(ep_env.REPO / ".venv" / "bin" / "py-spy"),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(seconds)),
        "--rate",
        "50",
        "--format",
        "raw",
        "--output",
        str(out),
        "--nonblocking",
    ]
    if subprocesses:
        argv.append("--subprocesses")
    if idle:
        argv.append("--idle")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def py_spy_top(path: Path, top: int = 6, rate: int = 50) -> dict[str, Any]:
    """Where a raw py-spy profile (`--subprocesses`, no idle samples) spent CPU, per process level: 1 = the
    component itself, 2 = its children (LocalExecutor workers / the trigger runner), 3 = grandchildren (task
    processes). Per level: CPU seconds, and the hottest frames once the frames common to >= 80 % of that
    level's samples (entry points, main loops) are dropped."""
    if not path.exists():
        return {}
    site = str(ep_env.REPO / ".venv/lib/python3.11/site-packages") + "/"

    def name(frame: str) -> str:
        func, _, where = frame.partition(" (")
        where = where.rstrip(")").rsplit(":", 1)[0].replace(site, "").replace(str(ep_env.REPO) + "/", "")
        return f"{func} ({where})"

    levels: dict[int, list[tuple[list[str], int]]] = {}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        depth = sum(1 for f in frames if f.startswith("process "))
        code = [name(f) for f in frames if f and not f.startswith("process ")]
        levels.setdefault(depth, []).append((code, int(count)))
    out: dict[str, Any] = {}
    for depth, samples in sorted(levels.items()):
        total = sum(n for _, n in samples)
        inclusive: dict[str, int] = {}
        position: dict[str, int] = {}
        for code, n in samples:
            for i, f in enumerate(code):
                if f not in code[:i]:
                    inclusive[f] = inclusive.get(f, 0) + n
                    position[f] = max(position.get(f, 0), i)
        ranked = sorted(
            ((f, n / total) for f, n in inclusive.items() if n / total < 0.8), key=lambda kv: -kv[1]
        )
        # A call chain shows as many frames with the same share: keep its deepest frame only.
        hot: list[tuple[str, float]] = []
        for f, share in ranked:
            if hot and abs(hot[-1][1] - share) < 0.03:
                if position[f] > position[hot[-1][0]]:
                    hot[-1] = (f, share)
                continue
            hot.append((f, share))
            if len(hot) > top:
                break
        out[f"level_{depth}"] = {
            "cpu_s": round(total / rate, 1),
            "hot": [(f, round(share, 2)) for f, share in hot[:top]],
        }
    return out


def pg_backend_pss(b: Bench, app_prefix: str) -> float:
    """PSS (MiB) of the Postgres backends whose application_name starts with `app_prefix` (same machine)."""
    pids = [
        r[0]
        for r in b.q("SELECT pid FROM pg_stat_activity WHERE application_name LIKE %s", (app_prefix + "%",))
    ]
    total = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return round(total, 1)
