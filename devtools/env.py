"""Paths, generated local secrets and the environment every Airflow process of the project runs with.

Everything generated lives under ``.local/`` (git-ignored). ``EP_PROFILE`` (default ``dev``) selects a
separate Airflow home and separate databases, so `make test` never touches what `make run` uses.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.postgres import PostgresTarget

REPO = Path(__file__).resolve().parents[1]
LOCAL = REPO / ".local"

ADMIN_USER = "admin"
SERVICE_USER = "ep_service"
# The people the workflows wait on (SimpleAuthManager users; role "user" may answer what it is assigned).
APPROVERS = ("manager", "legal", "executive", "dd_lead", "ic_member", "deal_desk")
USERS = {ADMIN_USER: "admin", SERVICE_USER: "op", **{name: "user" for name in APPROVERS}}


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


def database_names() -> tuple[str, str]:
    """(airflow metadata db, business db) for the current profile."""
    suffix = "" if profile() == "dev" else f"_{profile()}"
    return f"airflow{suffix}", f"execution_plane{suffix}"


def airflow_home() -> Path:
    return LOCAL / "airflow" / profile()


def settings_values(pg: PostgresTarget, ports: Ports, sec: Secrets) -> dict[str, str]:
    """Values substituted for ``${NAME}`` in airflow_settings.yaml."""
    _, business_db = database_names()
    return {
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
        "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'plugins'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Airflow's LocalExecutor with a shutdown that cannot hang (apache/airflow#67870): a scheduler that
        # lost Postgres waited forever on an idle worker instead of exiting to be restarted. See its module.
        "AIRFLOW__CORE__EXECUTOR": "execution_plane.executor.BoundedLocalExecutor",
        # LocalExecutor pre-forks `parallelism` workers; 32 (the default) thrashes a 2-core machine.
        "AIRFLOW__CORE__PARALLELISM": os.environ.get("EP_PARALLELISM", "6"),
        "AIRFLOW__CORE__FERNET_KEY": sec.fernet_key,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.database_url(meta_db, "postgresql+psycopg2"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(ports.api),
        "AIRFLOW__API__BASE_URL": api_url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": sec.jwt_secret,
        # New DAG files must show up in seconds, not after the 300 s default.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "15",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # Each stack's log servers (task logs from workers, trigger logs from the triggerer) on loopback
        # ports of its own: with Airflow's fixed 8793/8794 a second stack on the machine (`make run` beside
        # `make test` or `make bench`) cannot bind them and its triggerer exits at start.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": worker_log_port,
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": trigger_log_port,
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        # After a loop with nothing to do the scheduler sleeps this long (default 1 s), so a task that a
        # webhook or an answer just ended waits up to that long before its downstream task is queued.
        # Measured (make bench, same run, bench/results/bench-20261126T021500Z.md): webhook accepted -> next
        # task finished p50 1.59 s / p95 2.88 s at 1 s, p50 0.83 s / p95 1.32 s at 0.1 s; the idle scheduler
        # costs 20 % of a core instead of 2.4 %.
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": os.environ.get("EP_SCHEDULER_IDLE_SLEEP", "0.1"),
        # A task whose worker died with its host (kill -9 of a LocalExecutor scheduler, OOM) stays `running`
        # until its heartbeat is this old; Airflow's 300 s default delays every such retry by 5 minutes.
        # Live tasks heartbeat every few seconds, so a minute is still far from a false alarm.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
        # Tasks a crashed scheduler had queued go back to the new one only at an orphan check that runs
        # after the dead scheduler's heartbeat is older than scheduler_health_check_threshold (30 s). The
        # check runs at start (too early: the dead job still looks alive) and then every 300 s by default,
        # which left runs idle for 5 minutes after each scheduler crash in the chaos suite.
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "20",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "EP_PROFILE": profile(),
        "EP_REPO": str(REPO),
    }
    return env
