"""`make run` where no Postgres runs: the embedded server, forced with EP_POSTGRES=embedded.

The machine's shared Postgres on 5432 keeps running (no test may stop it); the forced setting makes the
embedded path run anyway, on its own port and data directory: setup (databases, both migrations,
settings), then `python -m devtools run` (what `make run` runs) healthy with the project's DAGs loaded,
stopped with Ctrl-C: every process it started stops, the embedded server included. A server it did not
start, or one another program still uses, keeps running, and the output says how to stop it.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import psycopg2
import pytest

from devtools.env import REPO, free_port
from devtools.postgres import EmbeddedPostgres, PostgresTarget, choose, port_answers
from devtools.stack import release_postgres

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
    # setup leaves it running for the tests, and says so.
    assert f"embedded PostgreSQL on 127.0.0.1:{port} keeps running; stop it with: " in result.stdout
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


def test_make_run_on_embedded_runs_healthy_and_ctrl_c_stops_all_it_started(embedded: dict[str, str]) -> None:
    """`make run` where it has to start the embedded server itself: the stack comes up healthy with the DAGs
    loaded, and Ctrl-C stops every process it started, the embedded PostgreSQL included."""
    datadir = Path(embedded["EP_EMBEDDED_PG_DIR"])
    pg_port = int(embedded["EP_EMBEDDED_PG_PORT"])
    # A server left by the setup test would not be this run's.
    assert EmbeddedPostgres(datadir, pg_port).stop(), "the setup test's embedded PostgreSQL did not stop"
    api_port, sandbox_port = free_port(), free_port()
    env = {**embedded, "EP_API_PORT": str(api_port), "EP_SANDBOX_PORT": str(sandbox_port)}
    # Own process group, as in a terminal: Ctrl-C sends SIGINT to the whole foreground group. Started with
    # SIGINT ignored, as a shell without job control starts a background job (`make test &`): Ctrl-C must
    # still stop it (it did not: Python leaves an inherited SIG_IGN alone, so no KeyboardInterrupt came).
    run = subprocess.Popen(
        [sys.executable, "-m", "devtools", "run"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert run.stdout is not None
        for line in run.stdout:
            lines.append(line)
            if "] ready in " in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(420) or run.poll() is not None, "not ready in 420 s:\n" + "".join(lines[-40:])
        assert ready.is_set(), "".join(lines[-40:])
        health = httpx.get(f"http://127.0.0.1:{api_port}/api/v2/monitor/health", timeout=10).json()
        for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
            assert health[component]["status"] == "healthy", health
        started = psutil.Process(run.pid).children(recursive=True)
        assert len(started) >= 5  # sandbox, API server, scheduler, dag-processor, triggerer (and children)

        # A component that dies is restarted, as a process supervisor would (devtools.supervisor).
        scheduler = next(p for p in started if "airflow scheduler" in " ".join(p.cmdline()))
        os.killpg(scheduler.pid, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("scheduler restarted (restart 1)" in x for x in lines):
            time.sleep(0.5)
        noticed = "scheduler exited with -9 (crash 1 within 300 s); restarting it in 1 s"
        assert any(noticed in x for x in lines), "".join(lines[-20:])
        assert any("scheduler restarted (restart 1)" in x for x in lines), "".join(lines[-20:])
        while time.monotonic() < deadline:
            health = httpx.get(f"http://127.0.0.1:{api_port}/api/v2/monitor/health", timeout=10).json()
            if health["scheduler"]["status"] == "healthy":
                break
            time.sleep(1)
        assert health["scheduler"]["status"] == "healthy", health
        assert run.poll() is None  # the stack went on
        started += [p for p in psutil.Process(run.pid).children(recursive=True) if p not in started]

        os.killpg(run.pid, signal.SIGINT)
        try:
            code = run.wait(120)
        except subprocess.TimeoutExpired:
            pytest.fail("`make run` still running 120 s after Ctrl-C:\n" + "".join(lines[-40:]))
        assert code == 0, "".join(lines[-40:])
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    reader.join(10)
    output = "".join(lines)
    assert f"Postgres: embedded PostgreSQL 16 on 127.0.0.1:{pg_port}\n" in output  # started by this run
    assert f"embedded PostgreSQL on 127.0.0.1:{pg_port} stopped" in output, output[-3000:]
    assert not [p.pid for p in started if alive(p)]
    for port in (pg_port, api_port, sandbox_port):
        assert not port_answers("127.0.0.1", port), f"port {port} still answers"
    assert not (datadir / "postmaster.pid").exists()


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def embedded_target(monkeypatch: pytest.MonkeyPatch, embedded: dict[str, str]) -> PostgresTarget:
    """What `make run` chooses with the module's embedded settings (starting the server if it is down)."""
    for name in ("EP_POSTGRES", "EP_EMBEDDED_PG_PORT", "EP_EMBEDDED_PG_DIR"):
        monkeypatch.setenv(name, embedded[name])
    monkeypatch.delenv("EP_POSTGRES_URL", raising=False)
    return choose(REPO / ".local")


def run_printed_command(output: str) -> subprocess.CompletedProcess[str]:
    command = output.split("stop it with: ", 1)[1].splitlines()[0]
    return subprocess.run(shlex.split(command), cwd=REPO, capture_output=True, text=True, timeout=120)


def test_a_server_found_running_is_left_running_and_its_stop_command_named(
    embedded: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = EmbeddedPostgres(Path(embedded["EP_EMBEDDED_PG_DIR"]), int(embedded["EP_EMBEDDED_PG_PORT"]))
    server.start()
    pg = embedded_target(monkeypatch, embedded)
    assert (pg.started_here, pg.description.endswith("(already running)")) == (False, True)

    release_postgres(pg)

    assert server.running()
    output = capsys.readouterr().out
    assert f"127.0.0.1:{server.port} was already running before this started, so it keeps running" in output
    stop = run_printed_command(output)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert not server.running()


def test_a_server_it_started_stays_while_another_program_uses_it(
    embedded: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = EmbeddedPostgres(Path(embedded["EP_EMBEDDED_PG_DIR"]), int(embedded["EP_EMBEDDED_PG_PORT"]))
    server.stop()
    pg = embedded_target(monkeypatch, embedded)
    assert pg.started_here
    other = psycopg2.connect(pg.database_url("postgres"))  # e.g. a `make test` on the same server
    try:
        release_postgres(pg, settle_s=1)
        assert server.running()
        assert "keeps running: 1 connection(s) of another program use it" in capsys.readouterr().out
    finally:
        other.close()
    release_postgres(pg)
    assert not server.running()
    assert f"embedded PostgreSQL on 127.0.0.1:{server.port} stopped" in capsys.readouterr().out


def test_stop_postgres_leaves_a_data_directory_it_did_not_start_alone(tmp_path: Path) -> None:
    """The machine's own server is never stopped: its postmaster did not come from pgserver's binaries."""
    datadir = tmp_path / "pgdata"
    datadir.mkdir()
    (datadir / "postmaster.pid").write_text("4242\n/var/lib/postgresql/15/main\n0\n5432\n")
    (datadir / "postmaster.opts").write_text("/usr/lib/postgresql/15/bin/postgres\n")
    result = subprocess.run(
        [sys.executable, "-m", "devtools", "stop-postgres", "--datadir", str(datadir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "is not a data directory of the embedded PostgreSQL: left alone" in result.stdout
    assert (datadir / "postmaster.pid").exists()


def test_port_taken_by_another_program_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(SystemExit, match=f"port {port} is taken by another program"):
            EmbeddedPostgres(tmp_path / "pgdata", port).start()
