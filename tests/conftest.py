"""Test session bootstrap: run every test in the environment `python -m devtools setup` prepared.

`make test` runs the setup with EP_PROFILE=test (own Airflow home, own databases), so tests never touch
what `make run` uses. The environment must be in place before anything imports airflow.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

os.environ.setdefault("EP_PROFILE", "test")

from devtools import env as ep_env  # noqa: E402
from devtools.settings_loader import connection_env  # noqa: E402
from devtools.stack import read_state  # noqa: E402

STATE = read_state()
os.environ.update(STATE["env"])  # type: ignore[arg-type]
# Outside a task, the SDK finds connections in secrets backends only: give the test process the same
# connections airflow_settings.yaml loads into Airflow.
os.environ.update(connection_env(ep_env.REPO / "airflow_settings.yaml", STATE["settings_values"]))  # type: ignore[arg-type]
for path in (str(ep_env.REPO), str(ep_env.REPO / "plugins")):
    if path not in sys.path:
        sys.path.insert(0, path)


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
