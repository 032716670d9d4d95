"""Where the webhook ingress reads its secrets (credentials.py): the Task SDK's ``Connection.get``.

In the API server (a server process: ``_AIRFLOW_PROCESS_CONTEXT=server``) a connection kept only in the
metadata database is found; inside a task (Task SDK supervisor comms present, as when ``dag.test()`` drives
the routes) an ``AIRFLOW_CONN_*`` connection is found without the DeprecationWarning that
``airflow.models.Connection.get_connection_from_secrets`` gives there. Reads are cached for ``TTL_S``.
Every test turns DeprecationWarning into an error, so a deprecated read fails it.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator

import pytest

from execution_plane.webhooks import credentials
from execution_plane.webhooks.errors import WebhookError

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")


@pytest.fixture
def conn_id(fresh_credentials: None) -> str:
    return f"ep_test_webhook_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def metadata_connection(conn_id: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A connection that exists only in the metadata database (none in env vars); yields its password.
    Written with Airflow's ORM model, as ``airflow connections add`` writes it (password encrypted)."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    monkeypatch.delenv(f"AIRFLOW_CONN_{conn_id.upper()}", raising=False)
    password = uuid.uuid4().hex
    with create_session() as session:
        session.add(Connection(conn_id=conn_id, conn_type="generic", password=password))
    try:
        yield password
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id == conn_id).delete()


@pytest.fixture
def api_server_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process as the API server is: marked a server process, no Task SDK supervisor comms."""
    from airflow.sdk.execution_time import task_runner

    monkeypatch.setenv("_AIRFLOW_PROCESS_CONTEXT", "server")
    monkeypatch.delattr(task_runner, "SUPERVISOR_COMMS", raising=False)


def test_api_server_reads_a_connection_kept_in_the_metadata_database(
    conn_id: str, metadata_connection: str, api_server_process: None
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert credentials.webhook_secret(conn_id) == metadata_connection


def test_the_metadata_database_is_read_only_in_a_server_process(
    conn_id: str, metadata_connection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server mark is what reaches the metadata database (so the test above reads it from there)."""
    from airflow.sdk.execution_time import task_runner

    monkeypatch.delenv("_AIRFLOW_PROCESS_CONTEXT", raising=False)
    monkeypatch.delattr(task_runner, "SUPERVISOR_COMMS", raising=False)
    with pytest.raises(WebhookError) as refused:
        credentials.get_connection(conn_id)
    assert (refused.value.status_code, refused.value.error) == (503, "not_configured")


def test_inside_a_task_an_env_connection_is_read_without_deprecation_warning(
    conn_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dag.test()`` posts to the routes while a task runs in-process: Task SDK comms are present.
    There ``get_connection_from_secrets`` warned (DeprecationWarning) on every read."""
    from airflow.sdk.execution_time import task_runner

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", object(), raising=False)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", '{"conn_type": "generic", "password": "s3cret"}')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert credentials.webhook_secret(conn_id) == "s3cret"


def test_a_missing_connection_is_503_not_configured(conn_id: str, api_server_process: None) -> None:
    with pytest.raises(WebhookError) as refused:
        credentials.get_connection(conn_id)
    assert (refused.value.status_code, refused.value.error) == (503, "not_configured")


def test_reads_are_cached_for_ttl_then_read_again(conn_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(credentials, "_now", lambda: clock[0])
    env_name = f"AIRFLOW_CONN_{conn_id.upper()}"
    monkeypatch.setenv(env_name, '{"conn_type": "generic", "password": "old"}')
    assert credentials.webhook_secret(conn_id) == "old"

    monkeypatch.setenv(env_name, '{"conn_type": "generic", "password": "rotated"}')
    clock[0] += credentials.TTL_S - 1
    assert credentials.webhook_secret(conn_id) == "old"  # within TTL_S: no backend read
    clock[0] += 1
    assert credentials.webhook_secret(conn_id) == "rotated"  # TTL_S after the read: read again
