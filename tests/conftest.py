"""Test session bootstrap: run every test in the environment `python -m devtools setup` prepared.

`make test` runs the setup with EP_PROFILE=test (own Airflow home, own databases), so tests never touch
what `make run` uses. The environment must be in place before anything imports airflow.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

os.environ.setdefault("EP_PROFILE", "test")

from devtools import env as ep_env
from devtools.settings_loader import connection_env
from devtools.stack import read_state

STATE = read_state()
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Each xdist worker on clones of the profile's databases of its own (tests/support/worker_dbs.py).
    from tests.support.worker_dbs import for_worker

    STATE = for_worker(STATE, os.environ["PYTEST_XDIST_WORKER"])
os.environ.update(STATE["env"])  # type: ignore[arg-type]
# Outside a task, the SDK finds connections in secrets backends only: give the test process the same
# connections airflow_settings.yaml loads into Airflow.
os.environ.update(connection_env(ep_env.REPO / "airflow_settings.yaml", STATE["settings_values"]))  # type: ignore[arg-type]
for path in (str(ep_env.REPO), str(ep_env.REPO / "plugins")):
    if path not in sys.path:
        sys.path.insert(0, path)

# The tests that build Airflow's API app in this process (the services' and Workflows page's route tests, the
# compat canaries' REST API) run Simple auth manager: it issues tokens for role-less users and team members
# in process, and the routes ask any auth manager the same questions. The stacks the live tests start run the
# shipped one (config/airflow.cfg), whose roles tests/e2e/test_roles_live.py tests. Set in Airflow's
# in-process config, not in the environment, so the stacks this process starts do not inherit it.
from airflow.configuration import conf as airflow_conf  # noqa: E402 - after the environment above

airflow_conf.set("core", "auth_manager", ep_env.SIMPLE_AUTH_MANAGER)

# Longest test files first under xdist, and `--file-seconds=PATH` to measure them
# (tests/support/file_order.py).
from tests.support import file_order  # noqa: E402
from tests.support.file_order import pytest_addoption, pytest_collection_modifyitems  # noqa: E402, F401


def _interrupted(signum: int, frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_IGN)  # a second SIGTERM must not cut the teardown short
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM (a CI timeout; `make test` stopping the chaos run it started beside its stages) ends the
    session as Ctrl-C does: the live stacks' fixtures stop the processes and Postgres clusters they began."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupted)
    file_order.configure(config)


@pytest.fixture(scope="session")
def stack_state() -> dict[str, object]:
    return STATE


@pytest.fixture(scope="session")
def business_db_url() -> str:
    return str(STATE["business_db_url"])


@pytest.fixture
def business_db(business_db_url: str) -> Iterator[object]:
    """A psycopg2 connection to the test business database (autocommit)."""
    import psycopg2

    conn = psycopg2.connect(business_db_url)
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


class SandboxServer:
    """The sandbox of outside systems, served for real by uvicorn on a free loopback port."""

    def __init__(self, port: int, webhook_base: str) -> None:
        import threading

        import uvicorn

        os.environ["EP_SANDBOX_WEBHOOK_BASE"] = webhook_base
        values = STATE["settings_values"]
        os.environ["EP_SANDBOX_ESIGN_SECRET"] = values["EP_WEBHOOK_ESIGN_SECRET"]  # type: ignore[index]
        os.environ["EP_SANDBOX_EVENTS_SECRET"] = values["EP_WEBHOOK_EVENTS_SECRET"]  # type: ignore[index]
        os.environ["EP_SANDBOX_CRM_SECRET"] = values["EP_WEBHOOK_CRM_SECRET"]  # type: ignore[index]
        from include.sandbox.app import create_app

        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        import time

        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("sandbox did not start")
            time.sleep(0.05)

    def get(self, path: str, **kwargs: object) -> object:
        import httpx

        resp = httpx.get(f"{self.url}{path}", timeout=10, **kwargs)  # type: ignore[arg-type]
        resp.raise_for_status()
        return resp.json()

    def post(self, path: str, json: object = None, **kwargs: object) -> object:
        import httpx

        resp = httpx.post(f"{self.url}{path}", json=json, timeout=30, **kwargs)  # type: ignore[arg-type]
        resp.raise_for_status()
        return resp.json()

    def effects(self, **filters: str) -> list[dict[str, object]]:
        body = self.get("/_sandbox/effects", params=filters)
        return list(body["effects"] if isinstance(body, dict) else body)  # type: ignore[index,arg-type]

    def reset(self) -> None:
        self.post("/_sandbox/reset")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    port = ep_env.free_port()
    server = SandboxServer(port, webhook_base="http://127.0.0.1:9/webhooks")
    values = {**STATE["settings_values"], "EP_SANDBOX_URL": server.url}  # type: ignore[dict-item]
    previous = {k: os.environ.get(k) for k in connection_env(ep_env.REPO / "airflow_settings.yaml", values)}
    os.environ.update(connection_env(ep_env.REPO / "airflow_settings.yaml", values))
    try:
        yield server
    finally:
        server.stop()
        for key, value in previous.items():
            if value is not None:
                os.environ[key] = value


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """A clean sandbox for one test: effects log, state and faults reset."""
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture(autouse=True)
def quick_dag_test_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """dag.test()'s loop sleeps a whole second whenever only parked tasks are left (awaiting input, or an
    inline trigger): the tests' answers and events arrive in milliseconds, so that loop looks again every
    50 ms. Only sleeps called from dag.test()'s own module are shortened; everything else sleeps as asked."""
    import time

    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if seconds >= 1 and sys._getframe(1).f_globals.get("__name__") == "airflow.sdk.definitions.dag":
            seconds = 0.05
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)


@pytest.fixture(autouse=True, scope="session")
def dag_test_keeps_params() -> Iterator[None]:
    """Every ``dag.test()`` of the session leaves its DAG's params as it found them, parses its bundle once
    per process and builds its callbacks' context from the task's params as the Task SDK's. In
    tests/support/dagtest.py: ``params_kept`` (Airflow stores a run's conf in the task's Param objects),
    ``bundle_synced_once`` (Airflow parses and writes the whole bundle on every call),
    ``dag_callbacks_with_sdk_params`` (Airflow fails that context on a required param)."""
    from airflow.models.dagrun import DagRun
    from airflow.sdk.definitions.dag import DAG

    from tests.support.dagtest import bundle_synced_once, dag_callbacks_with_sdk_params, params_kept

    original, callbacks = DAG.test, DagRun.execute_dag_callbacks
    DAG.test = params_kept(bundle_synced_once(original))  # type: ignore[method-assign]
    DagRun.execute_dag_callbacks = dag_callbacks_with_sdk_params(callbacks)  # type: ignore[method-assign]
    try:
        yield
    finally:
        DAG.test = original  # type: ignore[method-assign]
        DagRun.execute_dag_callbacks = callbacks  # type: ignore[method-assign]
