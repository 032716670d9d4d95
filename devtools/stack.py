"""Set up and run the project's stack: Postgres, both databases, settings, sandbox, Airflow components.

`make run` and the live tests both use `Stack`, so what the tests start is what an operator starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from devtools import env as ep_env
from devtools.postgres import PostgresTarget, choose, ensure_databases, port_answers

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
VENV_BIN = Path(sys.executable).parent


def log(message: str) -> None:
    print(f"[execution-plane] {message}", flush=True)


@dataclass
class Setup:
    pg: PostgresTarget
    ports: ep_env.Ports
    secrets: ep_env.Secrets
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def business_db_url(self) -> str:
        return self.pg.database_url(ep_env.database_names()[1])

    def process_env(self) -> dict[str, str]:
        # Connections and variables come from the metadata database (airflow_settings.yaml), never from
        # whatever AIRFLOW_CONN_*/AIRFLOW_VAR_* the calling shell or test process happens to carry.
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_", "EP_SANDBOX_"))
        }
        return {**inherited, **self.env}


def _timed(timings: dict[str, float], name: str, started: float) -> None:
    timings[name] = round(time.monotonic() - started, 2)


def airflow_db_migrate(env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def business_db_migrate(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ep_env.REPO / "include" / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("postgresql://", "postgresql+psycopg2://", 1))
    command.upgrade(cfg, "head")


def load_settings(setup: Setup) -> str:
    values = ep_env.settings_values(setup.pg, setup.ports, setup.secrets)
    result = subprocess.run(
        [sys.executable, "-m", "devtools.settings_loader", str(ep_env.REPO / "airflow_settings.yaml")],
        input=json.dumps(values),
        env=setup.process_env(),
        capture_output=True,
        text=True,
        cwd=ep_env.REPO,
    )
    if result.returncode != 0:
        raise SystemExit(f"loading airflow_settings.yaml failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip()


def attach(ports: ep_env.Ports, extra_env: dict[str, str] | None = None) -> Setup:
    """A Setup over databases that `setup()` already prepared, for a stack on other ports (live tests):
    only the settings are loaded again, so the connections point at this stack's sandbox and API."""
    state = read_state()
    pg_state: dict[str, str] = state["postgres"]  # type: ignore[assignment]
    pg = PostgresTarget(pg_state["kind"], pg_state["url"], pg_state["kind"])
    sec = ep_env.Secrets.load_or_create()
    the_env = {**ep_env.airflow_env(pg, ports, sec), **(extra_env or {})}
    result = Setup(pg=pg, ports=ports, secrets=sec, env=the_env)
    load_settings(result)
    return result


def setup(ports: ep_env.Ports | None = None) -> Setup:
    """Everything short of starting servers: Postgres, databases, both migrations, settings."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    ports = ports or ep_env.Ports.from_env()
    pg = choose(ep_env.LOCAL)
    log(f"Postgres: {pg.description}")
    _timed(timings, "postgres", started)
    sec = ep_env.Secrets.load_or_create()
    the_env = ep_env.airflow_env(pg, ports, sec)
    result = Setup(pg=pg, ports=ports, secrets=sec, env=the_env, timings=timings)

    step = time.monotonic()
    created = ensure_databases(pg, list(ep_env.database_names()))
    if created:
        log(f"created databases: {', '.join(created)}")
    step = time.monotonic()
    airflow_db_migrate(result.process_env())
    _timed(timings, "airflow_db_migrate", step)
    step = time.monotonic()
    business_db_migrate(result.business_db_url)
    _timed(timings, "business_db_migrate", step)
    step = time.monotonic()
    log(f"airflow_settings.yaml loaded: {load_settings(result)}")
    _timed(timings, "settings", step)
    write_state(result)
    _timed(timings, "setup_total", started)
    return result


def state_file() -> Path:
    return ep_env.airflow_home() / "stack.json"


def write_state(s: Setup) -> None:
    state = {
        "postgres": {"kind": s.pg.kind, "url": s.pg.url},
        "business_db_url": s.business_db_url,
        "ports": {"api": s.ports.api, "sandbox": s.ports.sandbox},
        "env": s.env,
        "settings_values": ep_env.settings_values(s.pg, s.ports, s.secrets),
    }
    state_file().write_text(json.dumps(state, indent=2))
    state_file().chmod(0o600)


def read_state() -> dict[str, object]:
    path = state_file()
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `python -m devtools setup` (make test does) first")
    return json.loads(path.read_text())


def check_ports_free(ports: ep_env.Ports) -> None:
    for name, port in (("API server", ports.api), ("sandbox", ports.sandbox)):
        if port_answers("127.0.0.1", port):
            raise SystemExit(
                f"port {port} ({name}) is already in use: is another `make run` up? "
                f"Stop it, or choose other ports with EP_API_PORT / EP_SANDBOX_PORT."
            )


class Stack:
    """The running processes of one stack; stops them in reverse order."""

    def __init__(self, s: Setup, *, log_dir: Path | None = None, quiet: bool = False) -> None:
        self.setup = s
        self.log_dir = log_dir or ep_env.airflow_home() / "process-logs"
        self.quiet = quiet
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.setup.ports.api}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.setup.ports.sandbox}"

    def _spawn(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(out)
        env = {**self.setup.process_env(), **(extra_env or {})}
        # Own process group: Ctrl-C in the terminal reaches us, and we stop children in order.
        self.procs[name] = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ep_env.REPO, start_new_session=True
        )

    def start_sandbox(self) -> None:
        values = ep_env.settings_values(self.setup.pg, self.setup.ports, self.setup.secrets)
        self._spawn(
            "sandbox",
            [
                sys.executable,
                "-m",
                "include.sandbox",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.setup.ports.sandbox),
            ],
            {
                "EP_SANDBOX_WEBHOOK_BASE": f"{self.api_url}/webhooks",
                "EP_SANDBOX_ESIGN_SECRET": values["EP_WEBHOOK_ESIGN_SECRET"],
                "EP_SANDBOX_EVENTS_SECRET": values["EP_WEBHOOK_EVENTS_SECRET"],
                "EP_SANDBOX_CRM_SECRET": values["EP_WEBHOOK_CRM_SECRET"],
                "EP_SANDBOX_STATE_FILE": str(ep_env.airflow_home() / "sandbox-state.json"),
            },
        )
        self.wait_http(f"{self.sandbox_url}/_sandbox/health", "sandbox", 30)

    def start_component(self, component: str) -> None:
        self._spawn(component, [str(VENV_BIN / "airflow"), component])

    def start_airflow(self, components: tuple[str, ...] = COMPONENTS) -> None:
        for component in components:
            self.start_component(component)

    def wait_http(self, url: str, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pname, proc in self.procs.items():
                if proc.poll() is not None:
                    raise SystemExit(
                        f"{pname} exited with {proc.returncode}; see {self.log_dir / (pname + '.log')}"
                    )
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"{name} did not answer {url} within {timeout:.0f} s")

    def wait_healthy(self, timeout: float = 120) -> dict[str, object]:
        url = f"{self.api_url}/api/v2/monitor/health"
        deadline = time.monotonic() + timeout
        body: dict[str, object] = {}
        self.wait_http(url, "Airflow API server", timeout)
        while time.monotonic() < deadline:
            body = httpx.get(url, timeout=5).json()
            statuses = {k: (v or {}).get("status") for k, v in body.items() if isinstance(v, dict)}
            if all(
                statuses.get(k) == "healthy"
                for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            ):
                return body
            time.sleep(0.5)
        raise SystemExit(f"Airflow not healthy within {timeout:.0f} s: {body}")

    def token(self, user: str = ep_env.ADMIN_USER) -> str:
        password = self.setup.secrets.password(user)
        resp = httpx.post(
            f"{self.api_url}/auth/token", json={"username": user, "password": password}, timeout=10
        )
        resp.raise_for_status()
        return str(resp.json()["access_token"])

    def wait_dags_and_unpause(self, dag_ids: list[str], timeout: float = 120) -> None:
        headers = {"Authorization": f"Bearer {self.token()}"}
        pending = set(dag_ids)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for dag_id in sorted(pending):
                resp = httpx.patch(
                    f"{self.api_url}/api/v2/dags/{dag_id}",
                    json={"is_paused": False},
                    headers=headers,
                    timeout=10,
                )
                if resp.status_code == 200:
                    pending.discard(dag_id)
            if pending:
                time.sleep(1)
        if pending:
            raise SystemExit(f"DAGs not parsed within {timeout:.0f} s: {sorted(pending)}")

    def stop(self, timeout: float = 20) -> None:
        for _name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for handle in self._logs:
            handle.close()
        self.procs.clear()

    def kill(self, name: str) -> None:
        """SIGKILL a component and its children, as a crash would (chaos tests)."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def project_dag_ids() -> list[str]:
    return sorted(p.stem for p in (ep_env.REPO / "dags").glob("*.py") if not p.name.startswith("_"))
