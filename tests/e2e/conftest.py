"""The live stack: the project's own `Stack` (what `make run` starts) on free loopback ports.

One stack for all of tests/e2e (package scope): sandbox, API server (with the webhook plugin), scheduler,
dag-processor and triggerer, plus a second DAG bundle with the test-only DAGs of tests/e2e/dags. Every test
works on its own request ids, so the modules share it; it is stopped after the package's last test. Tests
talk to it only through public interfaces: REST API, webhook routes, sandbox controls.

Its databases are its own (``devtools.stack.attach_isolated``, made fresh at each start, so no run an earlier
session left resumes in it): ``airflow_test_e2e`` and ``execution_plane_test_e2e``, or with ``_gw0``,
``_gw1`` under pytest-xdist, where each worker runs its share of the modules (``--dist loadfile``) on a
stack of its own: `make test` runs the live modules on both cores that way, two stacks side by side, each
mostly waiting on its workflows' people and outside parties.

The executor is the environment's (``devtools.env.executor_env``, read by ``attach_isolated``): the
LocalExecutor of config/airflow.cfg by default; ``EP_EXECUTOR=celery`` (``EP_CELERY_WORKERS``, default 2)
runs the same stack on CeleryExecutor with its workers on Redis (`make test-live-celery`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from devtools import env as ep_env
from devtools.env import free_port
from devtools.stack import Stack, attach_isolated, project_dag_ids
from include.security.hmac_signing import signed_headers
from tests.support.airflow_client import AirflowClient
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.stack_env import QUIET_PARSING

E2E_DAGS = ep_env.REPO / "tests" / "e2e" / "dags"
E2E_DAG_IDS = ["toolkit_probe", "toolkit_probe_no_callback"]


class Live:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.api_url = stack.api_url
        self.sandbox_url = stack.sandbox_url
        self.airflow = AirflowClient(stack.api_url, stack.setup.secrets.user_passwords)
        self.sandbox_http = httpx.Client(base_url=stack.sandbox_url, timeout=30)

    def sandbox(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.sandbox_http.request(method, path, **kwargs)
        resp.raise_for_status()
        return resp.json()

    def post_event(self, source: str, event: dict[str, Any]) -> httpx.Response:
        """POST ``event`` to the live ingress's ``/webhooks/events/<source>``, signed as its sender signs."""
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = signed_headers(self.stack.setup.secrets.webhook_events_secret, body, time.time())
        return httpx.post(
            f"{self.api_url}/webhooks/events/{source}", content=body, headers=headers, timeout=30
        )

    def effects(self, **filters: str) -> list[dict[str, Any]]:
        body = self.sandbox("GET", "/_sandbox/effects", params=filters)
        return list(body["effects"] if isinstance(body, dict) else body)

    @contextmanager
    def meta_db_cursor(self) -> Iterator[Any]:
        """A cursor on this stack's Airflow metadata database, in one transaction (committed on exit)."""
        with meta_db_cursor(self.stack.setup.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]) as cur:
            yield cur


@contextmanager
def meta_db_cursor(url: str | None = None) -> Iterator[Any]:
    """A cursor on an Airflow metadata database (``url``, by default the test profile's), in one transaction
    (committed on exit)."""
    import psycopg2

    from devtools.stack import read_state

    url = url or str(read_state()["env"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])  # type: ignore[index]
    conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def clear_leftovers() -> None:
    """Runs a killed earlier session left behind in the test profile's databases would resume in a stack
    attached to them (and, with their triggers, wait or fail in it): such a stack starts from finished runs
    only."""
    with meta_db_cursor() as cur:
        cur.execute(
            "UPDATE task_instance SET state = 'failed', trigger_id = NULL WHERE state IN"
            " ('deferred', 'awaiting_input', 'running', 'queued', 'scheduled', 'up_for_retry')"
        )
        cur.execute("DELETE FROM trigger")
        cur.execute("UPDATE dag_run SET state = 'failed' WHERE state IN ('running', 'queued')")


@pytest.fixture(scope="package")
def otlp_metrics() -> Iterator[OtlpReceiver]:
    """Where the live stack exports its OpenTelemetry metrics (Airflow's own integration): a receiver in this
    process, standing in for a collector."""
    receiver = OtlpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture(scope="package")
def live(otlp_metrics: OtlpReceiver) -> Iterator[Live]:
    """The stack every live test of tests/e2e shares (started once: about 40 s saved per module)."""
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
    extra = {
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        # The live tests drop a failure callback on purpose; the reconciler should not wait 30 s for it.
        "EP_RECONCILER_GRACE_S": "3",
        # Tests that wait out every retry of a step against a provider that stays down (meeting_booking's
        # invitations, pmi_program's HRIS) wait 2 + 4 + 8 s, not the shipped 10 + 20 + 40 s.
        "AIRFLOW__EXECUTION_PLANE__RETRY_DELAY": "2",
        **otlp_metrics.exporter_env(),
        **QUIET_PARSING,
    }
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    name = f"e2e_{worker}" if worker else "e2e"
    setup = attach_isolated(ports, name, extra)
    # The sandbox's state of its own, fresh like the databases (a state file another stack shares, or an
    # earlier session left, carries its outside world in: a market left in a canary breach, ...).
    sandbox_state = ep_env.airflow_home() / f"{name}-sandbox-state.json"
    sandbox_state.unlink(missing_ok=True)
    stack = Stack(setup, log_dir=ep_env.airflow_home() / f"{name}-logs", sandbox_state=sandbox_state)
    try:
        stack.start_sandbox()
        stack.start_airflow()
        stack.wait_healthy(timeout=180)
        dag_ids = project_dag_ids() + E2E_DAG_IDS
        stack.wait_dags_and_unpause(dag_ids, timeout=180)
        yield Live(stack)
    finally:
        stack.stop()
        os.environ.pop("EP_RECONCILER_GRACE_S", None)


@pytest.fixture(scope="package")
def business_db_url(live: Live) -> str:
    """The live stack's business database (the ``business_db`` fixture connects to it)."""
    return live.stack.setup.business_db_url
