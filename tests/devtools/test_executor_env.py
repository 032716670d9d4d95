"""EP_EXECUTOR: the LocalExecutor of config/airflow.cfg by default, Celery on Redis when asked.

What a Celery stack's processes read is asked of Airflow and of the Celery app Airflow builds, in a fresh
process with that environment (as tests/devtools/test_config_parity.py does for the shipped file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from devtools import env as ep_env
from devtools.postgres import PostgresTarget
from devtools.stack import COMPONENTS, Setup, Stack, with_executor

META = "postgresql+psycopg2://u:p@127.0.0.1:5432/airflow_someprofile"

PROBE = """
import json
from airflow.configuration import conf
from airflow.executors.executor_loader import ExecutorLoader
from airflow.providers.celery.executors.celery_executor import app

executor, _ = ExecutorLoader.import_default_executor_cls()
print(json.dumps({
    "executor": f"{executor.__module__}.{executor.__qualname__}",
    "broker_url": app.conf.broker_url,
    "result_backend": app.conf.result_backend,
    "transport_options": app.conf.broker_transport_options,
    "acks_late": app.conf.task_acks_late,
    "concurrency": conf.getint("celery", "worker_concurrency"),
}))
"""


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("EP_EXECUTOR", "EP_CELERY_WORKERS", "EP_CELERY_CONCURRENCY", "EP_REDIS_DB", "EP_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EP_PROFILE", "someprofile")
    return monkeypatch


def test_local_is_the_default_and_adds_nothing(clean: pytest.MonkeyPatch) -> None:
    assert ep_env.executor() == "local"
    assert ep_env.executor_env(META) == {}
    assert "LocalExecutor" in ep_env.describe_executor({})


def test_celery_env(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("EP_EXECUTOR", "celery")
    clean.setenv("EP_CELERY_WORKERS", "3")
    env = ep_env.executor_env(META)
    db = ep_env.redis_db()
    assert 0 <= db < ep_env.REDIS_DATABASES
    assert env == {
        "EP_EXECUTOR": "celery",
        "EP_CELERY_WORKERS": "3",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{db}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{META}",
        # The shipped parallelism (6) shared by 3 workers.
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": "ep:airflow_someprofile:",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
    }
    # The one shipped setting a Celery stack overrides is the executor (docker-compose.yaml does the same).
    assert set(env) & set(ep_env.shipped_settings()) == {"AIRFLOW__CORE__EXECUTOR"}
    line = ep_env.describe_executor(env)
    assert "CeleryExecutor, 3 worker(s) x 2 slots" in line and "ep:airflow_someprofile:" in line


def test_redis_database_and_url(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("EP_EXECUTOR", "celery")
    first = ep_env.redis_db()
    assert ep_env.redis_db() == first  # stable: a restarted stack finds the queue it left
    clean.setenv("EP_REDIS_DB", "7")
    assert ep_env.executor_env(META)["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/7"
    clean.setenv("EP_REDIS_URL", "rediss://:secret@redis.internal:6380/2")
    assert (
        ep_env.executor_env(META)["AIRFLOW__CELERY__BROKER_URL"] == "rediss://:secret@redis.internal:6380/2"
    )
    assert "secret" not in ep_env.describe_executor(ep_env.executor_env(META))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EP_EXECUTOR", "kubernetes"),
        ("EP_CELERY_WORKERS", "0"),
        ("EP_CELERY_WORKERS", "two"),
        ("EP_CELERY_CONCURRENCY", "-1"),
        ("EP_REDIS_DB", "x"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(
    clean: pytest.MonkeyPatch, name: str, value: str
) -> None:
    clean.setenv("EP_EXECUTOR", "celery")
    clean.setenv(name, value)
    with pytest.raises(SystemExit, match=name):
        ep_env.executor_env(META)


def test_each_stack_on_its_own_metadata_database_gets_its_own_prefix(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("EP_EXECUTOR", "celery")
    other = META.replace("airflow_someprofile", "airflow_someprofile_bundle_v2")
    prefixes = {
        ep_env.executor_env(url)["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"]
        for url in (META, other)
    }
    assert prefixes == {"ep:airflow_someprofile:", "ep:airflow_someprofile_bundle_v2:"}


def test_a_celery_stack_runs_its_workers_as_components(clean: pytest.MonkeyPatch) -> None:
    pg = PostgresTarget("server", "postgresql://u:p@127.0.0.1:5432", "server")
    secrets = ep_env.Secrets.load_or_create()
    local = Stack(Setup(pg=pg, ports=ep_env.Ports(), secrets=secrets, env={}))
    assert local.components == COMPONENTS and local.executor == "local"
    clean.setenv("EP_EXECUTOR", "celery")
    clean.setenv("EP_CELERY_WORKERS", "2")
    celery = Stack(
        Setup(
            pg=pg,
            ports=ep_env.Ports(),
            secrets=secrets,
            env=with_executor({"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": META}),
        )
    )
    assert celery.components == (*COMPONENTS, "celery-worker-1", "celery-worker-2")
    assert celery.executor == "celery"


def test_airflow_and_celery_read_the_celery_env(clean: pytest.MonkeyPatch) -> None:
    """A process of a Celery stack: Airflow loads the CeleryExecutor, and the Celery app it builds has the
    broker with the key prefix, Postgres as result backend and late acknowledgement (the redelivery the
    chaos suite relies on)."""
    clean.setenv("EP_EXECUTOR", "celery")
    clean.setenv("EP_CELERY_WORKERS", "2")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    pg = PostgresTarget("server", "postgresql://u:p@127.0.0.1:5432", "server")
    airflow_env = with_executor(ep_env.airflow_env(pg, ep_env.Ports(), ep_env.Secrets.load_or_create()))
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**base, **airflow_env},
        cwd=ep_env.REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    meta = airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert seen == {
        "executor": "airflow.providers.celery.executors.celery_executor.CeleryExecutor",
        "broker_url": f"redis://127.0.0.1:6379/{ep_env.redis_db()}",
        "result_backend": f"db+{meta}",
        "transport_options": {
            "global_keyprefix": f"ep:{meta.rsplit('/', 1)[1]}:",
            "visibility_timeout": 86400,
        },
        "acks_late": True,
        "concurrency": 3,
    }
