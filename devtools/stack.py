"""Set up and run the project's stack: Postgres, both databases, settings, sandbox, Airflow components.

`make run` and the live tests both use `Stack`, so what the tests start is what an operator starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from devtools import auth, bundle, knowledge
from devtools import env as ep_env
from devtools.postgres import (
    EmbeddedPostgres,
    PostgresTarget,
    choose,
    embedded_datadir,
    ensure_databases,
    other_clients,
    port_answers,
)

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# A Celery stack's workers are processes celery-worker-1 .. celery-worker-<EP_CELERY_WORKERS>.
CELERY_WORKER = "celery-worker"
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
    # The server of knowledge retrieval's store (devtools.knowledge): ``pg`` itself when it has pgvector.
    knowledge: PostgresTarget | None = None
    # A stack on databases of its own (``attach_isolated``): its business database's name.
    business_db: str | None = None

    @property
    def business_db_url(self) -> str:
        return self.pg.database_url(self.business_db or ep_env.database_names()[1])

    def settings_values(self) -> dict[str, str]:
        values = ep_env.settings_values(self.pg, self.ports, self.secrets, self.knowledge)
        if self.business_db:
            values["EP_BUSINESS_DB"] = self.business_db
        return values

    def process_env(self) -> dict[str, str]:
        # Connections and variables come from the metadata database (airflow_settings.yaml), never from
        # whatever AIRFLOW_CONN_*/AIRFLOW_VAR_* the calling shell or test process happens to carry.
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_", "EP_SANDBOX_"))
        }
        return {**inherited, **self.env}


def with_executor(env: dict[str, str]) -> dict[str, str]:
    """``env`` plus what the executor of EP_EXECUTOR adds (``devtools.env.executor_env``) for its metadata
    database."""
    return {**env, **ep_env.executor_env(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])}


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
    values = setup.settings_values()
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


def _servers(state: dict[str, object]) -> tuple[PostgresTarget, PostgresTarget]:
    """(the profile's server, its knowledge store's server) as `setup()` recorded them: the knowledge store
    lives on the server with pgvector, which may not be the first (the machine's PostgreSQL 15 has none)."""
    pg_state: dict[str, str] = state["postgres"]  # type: ignore[assignment]
    store: dict[str, str] = state.get("knowledge") or pg_state  # type: ignore[assignment]
    return (
        PostgresTarget(pg_state["kind"], pg_state["url"], pg_state["kind"]),
        PostgresTarget(store["kind"], store["url"], store["kind"]),
    )


def attach(ports: ep_env.Ports, extra_env: dict[str, str] | None = None) -> Setup:
    """A Setup over databases that `setup()` already prepared, for a stack on other ports (live tests):
    only the settings are loaded again, so the connections point at this stack's sandbox and API."""
    pg, knowledge_pg = _servers(read_state())
    sec = ep_env.Secrets.load_or_create()
    the_env = {**with_executor(ep_env.airflow_env(pg, ports, sec)), **(extra_env or {})}
    result = Setup(pg=pg, ports=ports, secrets=sec, env=the_env, knowledge=knowledge_pg)
    auth.ensure(result.process_env(), sec)
    load_settings(result)
    return result


def attach_isolated(
    ports: ep_env.Ports,
    name: str,
    extra_env: dict[str, str] | None = None,
    *,
    fresh: bool = True,
) -> Setup:
    """A Setup like ``attach``'s on databases of its own, ``airflow_<profile>_<name>`` and
    ``execution_plane_<profile>_<name>`` (created and migrated here; ``fresh``: dropped first, so no run of
    an earlier session resumes in it), for a live test whose stack must not share work with another stack of
    the profile: two schedulers on one metadata database run each other's tasks, and a stack's reconciler
    acts on the other's workflows."""
    # The knowledge store is the profile's, as for ``attach`` (without it, these stacks had looked for it on
    # ``pg`` and answered every knowledge search 503).
    pg, knowledge_pg = _servers(read_state())
    meta_db, business_db = (f"{db}_{ep_env.profile()}_{name}" for db in ("airflow", "execution_plane"))
    if fresh:
        drop_databases(pg, [meta_db, business_db])
    ensure_databases(pg, [meta_db, business_db])
    sec = ep_env.Secrets.load_or_create()
    the_env = {
        **with_executor(
            {
                **ep_env.airflow_env(pg, ports, sec),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.database_url(meta_db, "postgresql+psycopg2"),
            }
        ),
        **(extra_env or {}),
    }
    result = Setup(
        pg=pg,
        ports=ports,
        secrets=sec,
        env=the_env,
        business_db=business_db,
        knowledge=knowledge_pg,
    )
    airflow_db_migrate(result.process_env())
    auth.provision(result.process_env(), sec)
    business_db_migrate(result.business_db_url)
    load_settings(result)
    return result


def drop_databases(target: PostgresTarget, names: list[str]) -> None:
    """Drop ``names`` if they exist (their connections ended first)."""
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(target.database_url("postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for name in names:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        conn.close()


def report_config_overrides() -> None:
    """Airflow reads AIRFLOW__* variables before config/airflow.cfg: say so when the calling shell overrides
    one of the project's settings, since every process started here inherits it."""
    for name, value in ep_env.shipped_settings().items():
        if os.environ.get(name, value) != value:
            log(f"{name}={os.environ[name]} from the environment overrides config/airflow.cfg ({value})")


def choose_postgres() -> PostgresTarget:
    pg = choose(ep_env.LOCAL)
    log(f"Postgres: {pg.description}")
    return pg


def stop_postgres_command(server: EmbeddedPostgres) -> str:
    python = Path(sys.executable)
    shown = python.relative_to(ep_env.REPO) if python.is_relative_to(ep_env.REPO) else python
    command = f"{shown} -m devtools stop-postgres"
    if server.datadir != embedded_datadir(ep_env.LOCAL):
        command += f" --datadir {shlex.quote(str(server.datadir))}"
    return command


def release_postgres(pg: PostgresTarget, settle_s: float = 5.0) -> None:
    """Stop the embedded server `pg` if this process started it and no other program uses it (the stack's
    own processes stopped first; their server backends may take a moment to go). Any other server is left
    as it was; an embedded one that stays running is named, with the command that stops it."""
    server = pg.embedded
    if server is None:
        return
    where = f"embedded PostgreSQL on 127.0.0.1:{server.port}"
    if not pg.started_here:
        log(
            f"{where} was already running before this started, so it keeps running; stop it with: "
            f"{stop_postgres_command(server)}"
        )
        return
    deadline = time.monotonic() + settle_s
    while (others := other_clients(pg)) and time.monotonic() < deadline:
        time.sleep(0.25)
    if others:
        log(
            f"{where} keeps running: {others} connection(s) of another program use it (a `make test`?); "
            f"stop it with: {stop_postgres_command(server)}"
        )
        return
    if server.stop():
        log(f"{where} stopped")
    else:
        log(
            f"{where} did not stop (see {server.datadir / 'server.log'}); stop it with: "
            f"{stop_postgres_command(server)}"
        )


def setup(ports: ep_env.Ports | None = None, pg: PostgresTarget | None = None) -> Setup:
    """Everything short of starting servers: Postgres (``pg``, or the one `choose` picks), databases, both
    migrations, settings."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    ports = ports or ep_env.Ports.from_env()
    pg = pg or choose_postgres()
    _timed(timings, "postgres", started)
    report_config_overrides()
    sec = ep_env.Secrets.load_or_create()
    the_env = with_executor(ep_env.airflow_env(pg, ports, sec))
    log(ep_env.describe_executor(the_env))
    result = Setup(pg=pg, ports=ports, secrets=sec, env=the_env, timings=timings)

    step = time.monotonic()
    created = ensure_databases(pg, list(ep_env.database_names()))
    if created:
        log(f"created databases: {', '.join(created)}")
    step = time.monotonic()
    airflow_db_migrate(result.process_env())
    _timed(timings, "airflow_db_migrate", step)
    step = time.monotonic()
    log(f"users: {auth.provision(result.process_env(), sec)}")
    _timed(timings, "users", step)
    step = time.monotonic()
    business_db_migrate(result.business_db_url)
    _timed(timings, "business_db_migrate", step)
    step = time.monotonic()
    result.knowledge = knowledge.choose_store(pg)
    problem = knowledge.migrate(result.knowledge)
    if problem is None:
        where = f"{result.knowledge.description}, database {knowledge.database_name()}"
        log(f"knowledge store (pgvector): {where}")
    else:
        log(f"knowledge retrieval is unavailable on {result.knowledge.description}: {problem}")
    _timed(timings, "knowledge_store", step)
    step = time.monotonic()
    log(bundle.describe())
    if ep_env.dag_bundle_mode() == "git":
        published = bundle.publish()
        log(f"DAG bundle version: {published.commit[:12]} ({'new' if published.changed else 'unchanged'})")
    _timed(timings, "dag_bundle", step)
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
        "knowledge": {"kind": (s.knowledge or s.pg).kind, "url": (s.knowledge or s.pg).url},
        "business_db_url": s.business_db_url,
        "ports": {"api": s.ports.api, "sandbox": s.ports.sandbox},
        "env": s.env,
        "settings_values": s.settings_values(),
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

    #: How long one /monitor/health answer may take before ``wait_healthy`` asks again.
    health_read_timeout_s: float = 5.0

    def __init__(
        self, s: Setup, *, log_dir: Path | None = None, quiet: bool = False, sandbox_state: Path | None = None
    ) -> None:
        self.setup = s
        self.log_dir = log_dir or ep_env.airflow_home() / "process-logs"
        #: Where the sandbox keeps its state across restarts: one file per stack (two sandboxes on one file
        #: load each other's leftovers: a test's chosen canary figures broke another stack's launch).
        self.sandbox_state = sandbox_state or ep_env.airflow_home() / "sandbox-state.json"
        self.quiet = quiet
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self._log_starts: dict[str, int] = {}
        celery = s.env.get("EP_EXECUTOR") == "celery"
        count = int(s.env.get("EP_CELERY_WORKERS", "0")) if celery else 0
        #: The Celery workers of a Celery stack (EP_EXECUTOR=celery), none with the LocalExecutor.
        self.workers: tuple[str, ...] = tuple(f"{CELERY_WORKER}-{i}" for i in range(1, count + 1))

    @property
    def components(self) -> tuple[str, ...]:
        """Every Airflow process of the stack: ``COMPONENTS``, then the Celery workers if any."""
        return (*COMPONENTS, *self.workers)

    @property
    def executor(self) -> str:
        return "celery" if self.workers else "local"

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
                "EP_SANDBOX_STATE_FILE": str(self.sandbox_state),
            },
        )
        self.wait_http(f"{self.sandbox_url}/_sandbox/health", "sandbox", 30)

    def start_component(
        self, component: str, name: str | None = None, extra_env: dict[str, str] | None = None
    ) -> None:
        """Start ``airflow <component>`` as process ``name`` (default: the component; a second triggerer
        needs a name of its own, and its own log server port in ``extra_env``)."""
        if component in self.workers:
            self.start_celery_worker(component, extra_env)
            return
        self._spawn(name or component, [str(VENV_BIN / "airflow"), component], extra_env)

    def start_celery_worker(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        """``airflow celery worker`` as process ``name``, Celery node ``<metadata db>-<name>@<host>``, with a
        pid file and a log server port of its own (several workers run on one host)."""
        meta_db = self.setup.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].rsplit("/", 1)[-1]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_file = self.log_dir / f"{name}.log"
        self._log_starts[name] = log_file.stat().st_size if log_file.exists() else 0
        argv = [
            str(VENV_BIN / "airflow"),
            "celery",
            "worker",
            "--celery-hostname",
            f"{meta_db}-{name}@%h",
            "--pid",
            str(self.log_dir / f"{name}.pid"),
        ]
        own = {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ep_env.free_port()), **(extra_env or {})}
        self._spawn(name, argv, own)

    def wait_workers(self, timeout: float = 120) -> None:
        """Until every Celery worker said it is ready (connected to Redis, consuming its queue)."""
        deadline = time.monotonic() + timeout
        pending = set(self.workers)
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                proc = self.procs[name]
                if proc.poll() is not None:
                    raise SystemExit(
                        f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}"
                    )
                with open(self.log_dir / f"{name}.log", "rb") as handle:
                    handle.seek(self._log_starts.get(name, 0))
                    if b" ready." in handle.read():
                        pending.discard(name)
            if pending:
                time.sleep(0.5)
        if pending:
            raise SystemExit(f"Celery workers not ready within {timeout:.0f} s: {sorted(pending)}")

    def start_airflow(self, components: tuple[str, ...] | None = None) -> None:
        for component in self.components if components is None else components:
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
            try:
                body = httpx.get(url, timeout=self.health_read_timeout_s).json()
            except httpx.HTTPError as exc:
                # A busy API server (CI: its first requests beside a stack starting on 2 cores) answered
                # /monitor/health later than 5 s once; the deadline, not one slow answer, decides.
                body = {"error": repr(exc)}
                time.sleep(0.5)
                continue
            statuses = {k: (v or {}).get("status") for k, v in body.items() if isinstance(v, dict)}
            if all(
                statuses.get(k) == "healthy"
                for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            ):
                self.wait_workers(max(10.0, deadline - time.monotonic()))
                return body
            time.sleep(0.5)
        raise SystemExit(f"Airflow not healthy within {timeout:.0f} s: {body}")

    def token(self, user: str = ep_env.ADMIN_USER) -> str:
        password = self.setup.secrets.password(user)
        # 60 s: the first login to a fresh API server (FAB's password check, its first database session)
        # took more than 10 s twice on the loaded 2-core machine while the next ones took 1-2 s.
        resp = httpx.post(
            f"{self.api_url}/auth/token", json={"username": user, "password": password}, timeout=60
        )
        resp.raise_for_status()
        return str(resp.json()["access_token"])

    def wait_dags_and_unpause(self, dag_ids: list[str], timeout: float = 120) -> None:
        headers = {"Authorization": f"Bearer {self.token()}"}
        pending = set(dag_ids)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for dag_id in sorted(pending):
                try:
                    resp = httpx.patch(
                        f"{self.api_url}/api/v2/dags/{dag_id}",
                        json={"is_paused": False},
                        headers=headers,
                        timeout=10,
                    )
                except httpx.TimeoutException:
                    continue  # an API server slowed by a busy machine: asked again until the deadline
                if resp.status_code == 200:
                    pending.discard(dag_id)
            if pending:
                time.sleep(1)
        if pending:
            raise SystemExit(f"DAGs not parsed within {timeout:.0f} s: {sorted(pending)}")

    def stop(self, timeout: float = 20) -> None:
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                try:
                    if name in self.workers:
                        # Celery's warm shutdown: the main process stops taking messages and lets its pool
                        # finish the running tasks (a SIGTERM to the whole group would kill them mid-task).
                        os.kill(proc.pid, signal.SIGTERM)
                    else:
                        os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):  # its group ended after the timeout
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
    from devtools.dag_files import dag_files

    return sorted(dag_files())
