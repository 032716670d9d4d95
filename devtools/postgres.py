"""Choose the Postgres server the project runs on, and start an embedded one when none is given.

Order (first that applies wins):
1. ``EP_POSTGRES_URL`` (e.g. ``postgresql://user:pw@db.internal:5432``): used as given.
2. ``EP_POSTGRES=embedded``: force the embedded server even where one answers on 5432, so the
   embedded path is exercised on machines that also run a shared Postgres.
3. A server answering on 127.0.0.1:5432 (trust auth, user postgres).
4. The embedded server: the PostgreSQL 16 binaries shipped in the ``pgserver`` wheel, data under
   ``.local/pgdata`` (or ``EP_EMBEDDED_PG_DIR``), listening on 127.0.0.1:``EP_EMBEDDED_PG_PORT``
   (default 55432).

The embedded server listens on TCP (pgserver's own launcher only opens a Unix socket) so every
component, asyncpg included, reaches both kinds with the same ``host:port`` URL. `make run` stops an
embedded server it started when it stops (unless another program still uses it); `python -m devtools
stop-postgres` stops one at any time. Servers 1 and 3 are never started or stopped here.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

DEFAULT_EMBEDDED_PORT = 55432


@dataclass(frozen=True)
class PostgresTarget:
    """A reachable server; ``url`` has no database path."""

    kind: str  # "configured" | "local" | "embedded"
    url: str
    description: str
    # The embedded server behind an "embedded" target, and whether this process started it: only then is it
    # this process's to stop (see devtools.stack.release_postgres).
    embedded: EmbeddedPostgres | None = field(default=None, compare=False)
    started_here: bool = False

    def database_url(self, database: str, driver: str = "postgresql") -> str:
        parts = urlsplit(self.url)
        return urlunsplit((driver, parts.netloc, f"/{database}", parts.query, ""))

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 5432

    @property
    def user(self) -> str:
        return urlsplit(self.url).username or "postgres"

    @property
    def password(self) -> str:
        return urlsplit(self.url).password or ""


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def choose(local_dir: Path) -> PostgresTarget:
    if url := os.environ.get("EP_POSTGRES_URL"):
        parts = urlsplit(url)
        bare = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        return PostgresTarget("configured", bare, f"EP_POSTGRES_URL ({parts.hostname}:{parts.port or 5432})")
    forced = os.environ.get("EP_POSTGRES", "").lower()
    if forced not in ("", "auto", "embedded"):
        raise SystemExit(f"EP_POSTGRES must be 'embedded' or 'auto', not {forced!r}")
    if forced != "embedded" and port_answers("127.0.0.1", 5432):
        return PostgresTarget("local", "postgresql://postgres@127.0.0.1:5432", "server on 127.0.0.1:5432")
    port = int(os.environ.get("EP_EMBEDDED_PG_PORT", DEFAULT_EMBEDDED_PORT))
    server = EmbeddedPostgres(embedded_datadir(local_dir), port)
    started = server.start()
    return PostgresTarget(
        "embedded",
        f"postgresql://postgres@127.0.0.1:{port}",
        f"embedded PostgreSQL 16 on 127.0.0.1:{port}" + ("" if started else " (already running)"),
        embedded=server,
        started_here=started,
    )


def embedded_datadir(local_dir: Path) -> Path:
    return Path(os.environ.get("EP_EMBEDDED_PG_DIR", local_dir / "pgdata")).resolve()


class EmbeddedPostgres:
    """A private cluster run from pgserver's binaries. Idempotent start; also used by chaos tests."""

    def __init__(self, datadir: Path, port: int) -> None:
        self.datadir = datadir.resolve()
        self.port = port

    @property
    def _bin(self) -> Path:
        from pgserver._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)

    def _run_as(self) -> list[str]:
        # initdb and postgres refuse to run as root: run them as an unprivileged system user.
        if os.geteuid() != 0:
            return []
        from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists("pgserver")
        ensure_prefix_permissions(self.datadir)
        ensure_prefix_permissions(self._bin)
        ensure_folder_permissions(self._bin, 0o055)
        ensure_folder_permissions(self._bin.parent / "lib", 0o044)
        subprocess.run(["chown", "-R", "pgserver:pgserver", str(self.datadir)], check=True)
        return ["runuser", "-u", "pgserver", "--"]

    @classmethod
    def at(cls, datadir: Path) -> EmbeddedPostgres:
        """The server of ``datadir``, on the port its running postmaster wrote (the default if none runs)."""
        pid_file = datadir / "postmaster.pid"
        lines = pid_file.read_text().splitlines() if pid_file.exists() else []
        port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else DEFAULT_EMBEDDED_PORT
        return cls(datadir, port)

    def running(self) -> bool:
        return (self.datadir / "postmaster.pid").exists() and port_answers("127.0.0.1", self.port)

    def is_embedded(self) -> bool:
        """Whether the postmaster of ``datadir`` was started from pgserver's binaries (never the machine's
        own server, whose data directory must not be touched)."""
        opts = self.datadir / "postmaster.opts"
        return opts.exists() and opts.read_text().startswith(str(self._bin / "postgres"))

    def start(self, timeout: float = 30.0) -> bool:
        """Start the server unless it already runs; True when this call started it."""
        if port_answers("127.0.0.1", self.port):
            if (self.datadir / "postmaster.pid").exists():
                return False
            raise SystemExit(
                f"port {self.port} is taken by another program; set EP_EMBEDDED_PG_PORT to a free port"
            )
        self.datadir.mkdir(parents=True, exist_ok=True)
        prefix = self._run_as()
        if not (self.datadir / "PG_VERSION").exists():
            subprocess.run(
                [
                    *prefix,
                    str(self._bin / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ],
                check=True,
                capture_output=True,
                text=True,
            )
        log = self.datadir / "server.log"
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.datadir} -c max_connections=300"
        result = subprocess.run(
            [
                *prefix,
                str(self._bin / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(log),
                "-o",
                opts,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise SystemExit(f"embedded Postgres did not start: {result.stderr.strip()}\n{tail}")
        deadline = time.monotonic() + timeout
        while not port_answers("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise SystemExit(f"embedded Postgres did not open 127.0.0.1:{self.port}")
            time.sleep(0.1)
        return True

    def stop(self, mode: str = "fast", timeout_s: int = 300) -> bool:
        """Stop the server, waiting up to ``timeout_s`` for it (pg_ctl's own default, 60 s, ran out on a
        loaded machine: the server was still shutting down when the next program connected); True when no
        postmaster of ``datadir`` runs afterwards."""
        if not (self.datadir / "postmaster.pid").exists():
            return True
        subprocess.run(
            [
                *self._run_as(),
                str(self._bin / "pg_ctl"),
                *("-D", str(self.datadir), "-m", mode, "-w", "-t", str(timeout_s), "stop"),
            ],
            capture_output=True,
            text=True,
        )
        return not (self.datadir / "postmaster.pid").exists()

    def kill(self) -> None:
        """SIGKILL the postmaster: a crash, not a shutdown (chaos tests)."""
        pid_file = self.datadir / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().splitlines()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


def other_clients(target: PostgresTarget) -> int:
    """Client connections to the server other than the one asking (0 when it no longer answers)."""
    try:
        conn = psycopg2.connect(target.database_url("postgres"), connect_timeout=5)
    except psycopg2.OperationalError:
        return 0
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
            row = cur.fetchone()
            return int(row[0]) if row else 0
    finally:
        conn.close()


def ensure_databases(target: PostgresTarget, names: list[str]) -> list[str]:
    """Create the missing databases; returns the ones created."""
    created: list[str] = []
    conn = psycopg2.connect(target.database_url("postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for name in names:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                    created.append(name)
    finally:
        conn.close()
    return created
