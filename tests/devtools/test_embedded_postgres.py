"""`make run` where no Postgres runs: the embedded server, forced with EP_POSTGRES=embedded.

The machine's shared Postgres on 5432 keeps running (no test may stop it); the forced setting makes the
embedded path run anyway, on its own port and data directory: setup (databases, both migrations,
settings) and then the whole Airflow stack, healthy, with the project's DAGs loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from devtools.env import REPO, free_port
from devtools.postgres import EmbeddedPostgres

pytestmark = [pytest.mark.embedded_pg, pytest.mark.live, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    datadir = tmp_path_factory.mktemp("embedded-pg") / "pgdata"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "EP_"))}
    env.update(
        {
            "EP_POSTGRES": "embedded",
            "EP_EMBEDDED_PG_PORT": str(port),
            "EP_EMBEDDED_PG_DIR": str(datadir),
            "EP_PROFILE": "embtest",
        }
    )
    try:
        yield env
    finally:
        EmbeddedPostgres(datadir, port).stop("immediate")


def test_setup_chooses_embedded_and_migrates(embedded: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devtools", "setup"],
        env=embedded,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    port = embedded["EP_EMBEDDED_PG_PORT"]
    assert f"Postgres: embedded PostgreSQL 16 on 127.0.0.1:{port}" in result.stdout
    conn = psycopg2.connect(f"postgresql://postgres@127.0.0.1:{port}/execution_plane_embtest")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT version_num FROM alembic_version")
            assert cur.fetchone() is not None
            cur.execute("SELECT current_setting('server_version_num')::int / 10000")
            assert cur.fetchone() == (16,)  # pgserver's PostgreSQL 16, not the machine's 15
    finally:
        conn.close()
    # Running it twice is safe (every step is idempotent) and reuses the running server.
    again = subprocess.run(
        [sys.executable, "-m", "devtools", "setup"],
        env=embedded,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr[-3000:]


def test_airflow_runs_healthy_on_embedded(embedded: dict[str, str]) -> None:
    """What `make run` does, on the embedded server: the stack comes up healthy with the DAGs loaded."""
    script = (
        "import json, sys\n"
        "from devtools import env as ep_env\n"
        "from devtools.stack import Stack, project_dag_ids, setup\n"
        "s = setup(ep_env.Ports(api=ep_env.free_port(), sandbox=ep_env.free_port()))\n"
        "stack = Stack(s)\n"
        "try:\n"
        "    stack.start_sandbox(); stack.start_airflow()\n"
        "    health = stack.wait_healthy(180)\n"
        "    stack.wait_dags_and_unpause(project_dag_ids(), 180)\n"
        "    print('RESULT ' + json.dumps({'pg': s.pg.kind, 'health': health}))\n"
        "finally:\n"
        "    stack.stop()\n"
    )
    env = {**embedded, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'plugins'}"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True, timeout=500
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    outcome = json.loads(line.removeprefix("RESULT "))
    assert outcome["pg"] == "embedded"
    assert outcome["health"]["metadatabase"]["status"] == "healthy"
    assert outcome["health"]["scheduler"]["status"] == "healthy"


def test_port_taken_by_another_program_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(SystemExit, match=f"port {port} is taken by another program"):
            EmbeddedPostgres(tmp_path / "pgdata", port).start()
