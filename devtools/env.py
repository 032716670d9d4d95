"""Paths, generated local secrets and the environment every Airflow process of the project runs with.

The settings the project needs to be correct live in ``config/airflow.cfg``, the file the production image
ships; every process here reads that same file (``AIRFLOW_CONFIG``), and the environment below adds only what
differs per machine: database, ports, URLs, secrets, paths.

Everything generated lives under ``.local/`` (git-ignored). ``EP_PROFILE`` (default ``dev``) selects a
separate Airflow home and separate databases, so `make test` never touches what `make run` uses.
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import secrets
import socket
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.postgres import PostgresTarget

REPO = Path(__file__).resolve().parents[1]
LOCAL = REPO / ".local"
# The Airflow config every deployment reads: the image copies it (Dockerfile), every process here reads it.
AIRFLOW_CONFIG_FILE = REPO / "config" / "airflow.cfg"

ADMIN_USER = "admin"
SERVICE_USER = "ep_service"
# The people the workflows wait on (role Approver: each answers what it is assigned).
APPROVERS = (
    "manager",
    "legal",
    "executive",
    "dd_lead",
    "ic_member",
    "deal_desk",
    "integration_lead",
    "launch_lead",
    "board",
)
OPS_USER = "ops"  # an ops engineer: triggers, clears and marks
ANALYST_USER = "analyst"  # reads
# Every user of a local stack and its role: Simple auth manager's role names (viewer, user, op, admin; "user"
# may answer what it is assigned, and may also change any task's state) ...
USERS = {
    ADMIN_USER: "admin",
    SERVICE_USER: "op",
    OPS_USER: "op",
    ANALYST_USER: "viewer",
    **{name: "user" for name in APPROVERS},
}
# ... and their roles in the project's FAB auth manager (execution_plane.compat.fab_auth_manager), which
# config/airflow.cfg ships: every stack runs it unless AIRFLOW__CORE__AUTH_MANAGER names another.
FAB_ROLES = {
    ADMIN_USER: "Admin",
    SERVICE_USER: "Service",
    OPS_USER: "Ops",
    ANALYST_USER: "Analyst",
    **{name: "Approver" for name in APPROVERS},
}
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def auth_manager() -> str:
    """The auth manager every process of a stack runs: config/airflow.cfg's, or an AIRFLOW__CORE__AUTH_MANAGER
    of the calling shell (reported as an override by ``devtools.stack``)."""
    return os.environ.get("AIRFLOW__CORE__AUTH_MANAGER") or shipped_settings().get(
        "AIRFLOW__CORE__AUTH_MANAGER", SIMPLE_AUTH_MANAGER
    )


def uses_fab() -> bool:
    """Users and roles live in the metadata database (FAB auth manager or the project's subclass of it)."""
    return auth_manager() != SIMPLE_AUTH_MANAGER


def profile() -> str:
    name = os.environ.get("EP_PROFILE", "dev")
    if not name.isidentifier():
        raise SystemExit(f"EP_PROFILE must be an identifier, not {name!r}")
    return name


@dataclass(frozen=True)
class Secrets:
    """Local-only secrets, generated once per checkout and kept in .local/secrets.json."""

    jwt_secret: str
    fernet_key: str
    admin_password: str
    service_password: str
    webhook_crm_secret: str
    webhook_esign_secret: str
    webhook_events_secret: str
    approval_token_secret: str
    api_secret_key: str
    user_passwords: dict[str, str]

    def password(self, user: str) -> str:
        return self.user_passwords[user]

    @classmethod
    def load_or_create(cls, path: Path | None = None) -> Secrets:
        path = path or LOCAL / "secrets.json"
        data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        generators = {
            # Airflow warns on short JWT secrets; 64 random bytes.
            "jwt_secret": lambda: secrets.token_urlsafe(64),
            "fernet_key": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        }
        changed = False
        for field in cls.__dataclass_fields__:
            if field not in data and field != "user_passwords":
                data[field] = generators.get(field, lambda: secrets.token_urlsafe(24))()
                changed = True
        passwords: dict[str, str] = data.setdefault("user_passwords", {})
        passwords.setdefault(ADMIN_USER, str(data["admin_password"]))
        passwords.setdefault(SERVICE_USER, str(data["service_password"]))
        for user in USERS:
            if not passwords.get(user):
                passwords[user] = secrets.token_urlsafe(18)
                changed = True
        if changed:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data, indent=2))
            path.chmod(0o600)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Ports:
    api: int = 8080
    sandbox: int = 8765

    @classmethod
    def from_env(cls) -> Ports:
        return cls(
            api=int(os.environ.get("EP_API_PORT", cls.api)),
            sandbox=int(os.environ.get("EP_SANDBOX_PORT", cls.sandbox)),
        )


# The DAG bundle of every stack (EP_DAG_BUNDLE): "git", the shipped GitDagBundle of config/airflow.cfg on a
# local repository that devtools commits dags/ into (devtools/bundle.py), or "local", Airflow's LocalDagBundle
# on dags/ itself (unversioned: a parked run takes whatever code is on disk when it wakes).
DAG_BUNDLE_MODES = ("git", "local")
LOCAL_BUNDLE_NAME = "dags-folder"


def dag_bundle_mode() -> str:
    mode = os.environ.get("EP_DAG_BUNDLE", "git")
    if mode not in DAG_BUNDLE_MODES:
        raise SystemExit(f"EP_DAG_BUNDLE must be one of {', '.join(DAG_BUNDLE_MODES)}, not {mode!r}")
    return mode


def dag_bundle_repo() -> Path:
    """The local git repository the profile's GitDagBundle tracks (the connection ``dags_git``)."""
    return LOCAL / "dag-bundle" / f"{profile()}.git"


def dag_bundle_env() -> dict[str, str]:
    """What the bundle adds to every Airflow process: the connection ``dags_git`` to the profile's bundle
    repository, where bundle versions are checked out (per profile: Airflow's default,
    /tmp/airflow/dag_bundles, is shared by every stack on the machine), and with
    EP_DAG_BUNDLE=local the LocalDagBundle in place of the shipped list."""
    env = {
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(airflow_home() / "dag-bundles"),
        # The bundle's repository, as production gives it: a connection from the environment (or a secrets
        # backend), never from the repository's files. Here a local path; in production the URL with a
        # token or an SSH key in the connection's extra.
        "AIRFLOW_CONN_DAGS_GIT": json.dumps({"conn_type": "git", "host": str(dag_bundle_repo())}),
    }
    if dag_bundle_mode() == "local":
        env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
            [
                {
                    "name": LOCAL_BUNDLE_NAME,
                    "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                    "kwargs": {"path": str(REPO / "dags")},
                }
            ]
        )
    return env


# The executor of every stack (EP_EXECUTOR): "local", the shipped config's BoundedLocalExecutor (tasks run in
# processes the scheduler forks), or "celery", Airflow's CeleryExecutor with EP_CELERY_WORKERS workers
# (`airflow celery worker` processes the stack starts) on the machine's Redis as broker and the stack's
# metadata database as Celery's result backend, as docker-compose.yaml and the Helm values run it.
EXECUTORS = ("local", "celery")
DEFAULT_CELERY_WORKERS = 2
REDIS_DATABASES = 16  # Redis's default `databases`


def executor() -> str:
    name = os.environ.get("EP_EXECUTOR", "local")
    if name not in EXECUTORS:
        raise SystemExit(f"EP_EXECUTOR must be one of {', '.join(EXECUTORS)}, not {name!r}")
    return name


def celery_workers() -> int:
    """How many Celery workers a Celery stack starts (EP_CELERY_WORKERS, default 2)."""
    raw = os.environ.get("EP_CELERY_WORKERS", str(DEFAULT_CELERY_WORKERS))
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"EP_CELERY_WORKERS must be a whole number of at least 1, not {raw!r}")
    return int(raw)


def celery_concurrency(workers: int) -> int:
    """Task slots per worker: EP_CELERY_CONCURRENCY, else the shipped ``[core] parallelism`` shared among the
    workers (Airflow's default, 16 forked processes per worker, would swamp the 2-core machine)."""
    raw = os.environ.get("EP_CELERY_CONCURRENCY")
    if raw is not None:
        if not raw.isdigit() or int(raw) < 1:
            raise SystemExit(f"EP_CELERY_CONCURRENCY must be a whole number of at least 1, not {raw!r}")
        return int(raw)
    parallelism = int(shipped_settings()["AIRFLOW__CORE__PARALLELISM"])
    return max(1, parallelism // workers)


def redis_db() -> int:
    """The profile's Redis database number: EP_REDIS_DB, else one derived from the profile's name (stable, so
    a restarted stack finds the queue it left). Two profiles may land on one number; the key prefix of
    ``executor_env`` keeps their queues apart anyway."""
    raw = os.environ.get("EP_REDIS_DB")
    if raw is None:
        return zlib.crc32(profile().encode()) % REDIS_DATABASES
    if not raw.isdigit():
        raise SystemExit(f"EP_REDIS_DB must be a Redis database number, not {raw!r}")
    return int(raw)


def redis_url() -> str:
    """The broker: EP_REDIS_URL (with a password or TLS, as production gives it), else the machine's Redis on
    127.0.0.1:6379, the profile's database."""
    return os.environ.get("EP_REDIS_URL") or f"redis://127.0.0.1:6379/{redis_db()}"


def executor_env(sql_alchemy_conn: str) -> dict[str, str]:
    """What the executor adds to every process of a stack on the metadata database ``sql_alchemy_conn``:
    nothing for the shipped LocalExecutor; for Celery the executor (the one shipped setting this overrides, as
    docker-compose.yaml does: the bounded shutdown of the shipped executor works around a LocalExecutor hang,
    apache/airflow#67870, that Celery does not have), the broker, the result backend and the workers' size.

    Every key on the broker carries the prefix ``ep:<metadata database>:``, so the stacks of the machine
    (`make run`, `make test`, each live test's own databases) never share a queue even on one Redis
    database: a worker of one stack would run another's tasks against its own API server."""
    if executor() == "local":
        return {}
    workers = celery_workers()
    meta_db = sql_alchemy_conn.rsplit("/", 1)[-1].split("?", 1)[0]
    return {
        "EP_EXECUTOR": "celery",
        "EP_CELERY_WORKERS": str(workers),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": redis_url(),
        # Celery's task results in the stack's own metadata database (Postgres), as the Airflow docs advise.
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{sql_alchemy_conn}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(celery_concurrency(workers)),
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": f"ep:{meta_db}:",
        # A message a worker took and did not acknowledge (it died, or lost Redis before acking) goes back to
        # the queue after this long (Airflow's default, kept explicit). Its second delivery never runs a task
        # twice: Airflow 3.3 refuses to start a task instance that is running or done
        # (tests/chaos/test_celery_faults.py).
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
    }


def describe_executor(env: dict[str, str]) -> str:
    """One line for the log: which executor a stack with ``env`` runs."""
    if env.get("EP_EXECUTOR") != "celery":
        return "executor: LocalExecutor (the BoundedLocalExecutor of config/airflow.cfg)"
    prefix = env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"]
    broker = env["AIRFLOW__CELERY__BROKER_URL"]
    shown = broker.split("@", 1)[-1] if "@" in broker else broker.removeprefix("redis://")
    return (
        f"executor: CeleryExecutor, {env['EP_CELERY_WORKERS']} worker(s) x "
        f"{env['AIRFLOW__CELERY__WORKER_CONCURRENCY']} slots, broker Redis {shown} (keys {prefix}*), "
        "results in the metadata database"
    )


def database_names() -> tuple[str, str]:
    """(airflow metadata db, business db) for the current profile."""
    suffix = "" if profile() == "dev" else f"_{profile()}"
    return f"airflow{suffix}", f"execution_plane{suffix}"


def airflow_home() -> Path:
    return LOCAL / "airflow" / profile()


def settings_values(
    pg: PostgresTarget, ports: Ports, sec: Secrets, knowledge: PostgresTarget | None = None
) -> dict[str, str]:
    """Values substituted for ``${NAME}`` in airflow_settings.yaml. ``knowledge``: the server of the knowledge
    store (``devtools.knowledge``), ``pg`` when not given."""
    _, business_db = database_names()
    store = knowledge or pg
    suffix = "" if profile() == "dev" else f"_{profile()}"
    return {
        "EP_KNOWLEDGE_PG_HOST": store.host,
        "EP_KNOWLEDGE_PG_PORT": str(store.port),
        "EP_KNOWLEDGE_PG_USER": store.user,
        "EP_KNOWLEDGE_PG_PASSWORD": store.password,
        "EP_KNOWLEDGE_DB": f"execution_plane_knowledge{suffix}",
        "EP_PG_HOST": pg.host,
        "EP_PG_PORT": str(pg.port),
        "EP_PG_USER": pg.user,
        "EP_PG_PASSWORD": pg.password,
        "EP_BUSINESS_DB": business_db,
        "EP_SANDBOX_URL": f"http://127.0.0.1:{ports.sandbox}",
        "EP_API_URL": f"http://127.0.0.1:{ports.api}",
        "EP_SERVICE_USER": SERVICE_USER,
        "EP_SERVICE_PASSWORD": sec.service_password,
        "EP_WEBHOOK_CRM_SECRET": sec.webhook_crm_secret,
        "EP_WEBHOOK_ESIGN_SECRET": sec.webhook_esign_secret,
        "EP_WEBHOOK_EVENTS_SECRET": sec.webhook_events_secret,
        "EP_APPROVAL_TOKEN_SECRET": sec.approval_token_secret,
    }


def shipped_settings() -> dict[str, str]:
    """Every setting of config/airflow.cfg, keyed by the environment variable that would override it
    (``AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME`` -> ``"0.1"``)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(AIRFLOW_CONFIG_FILE.read_text())
    return {
        f"AIRFLOW__{section.upper()}__{key.upper()}": value
        for section in parser.sections()
        for key, value in parser.items(section)
    }


def free_port() -> int:
    """A loopback port free right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def airflow_env(pg: PostgresTarget, ports: Ports, sec: Secrets) -> dict[str, str]:
    """The environment of every Airflow process (API server, scheduler, dag-processor, triggerer, CLI)."""
    meta_db, _ = database_names()
    home = airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({user: sec.password(user) for user in USERS}))
    passwords.chmod(0o600)
    api_url = f"http://127.0.0.1:{ports.api}"
    worker_log_port = os.environ.get("EP_WORKER_LOG_PORT") or str(free_port())
    trigger_log_port = os.environ.get("EP_TRIGGER_LOG_PORT") or str(free_port())
    env = {
        "AIRFLOW_HOME": str(home),
        # The settings the project needs to be correct (executor, scheduler timings, ...) come from the same
        # file the production image ships, never from a copy here: only what differs per machine is below.
        "AIRFLOW_CONFIG": str(AIRFLOW_CONFIG_FILE),
        "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'plugins'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__FERNET_KEY": sec.fernet_key,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.database_url(meta_db, "postgresql+psycopg2"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(ports.api),
        "AIRFLOW__API__BASE_URL": api_url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": sec.jwt_secret,
        # The Flask session key of FAB's login pages: one per deployment, shared by every API server.
        "AIRFLOW__API__SECRET_KEY": sec.api_secret_key,
        # The users of Simple auth manager, for a stack or test process that runs it (config/airflow.cfg runs
        # the project's FAB auth manager, whose users devtools.auth stores in the metadata database).
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # Each stack's log servers (task logs from workers, trigger logs from the triggerer) on loopback
        # ports of its own: with Airflow's fixed 8793/8794 a second stack on the machine (`make run` beside
        # `make test` or `make bench`) cannot bind them and its triggerer exits at start.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": worker_log_port,
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": trigger_log_port,
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "EP_PROFILE": profile(),
        "EP_REPO": str(REPO),
        **dag_bundle_env(),
    }
    return env
