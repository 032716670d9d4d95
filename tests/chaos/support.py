"""What the chaos tests need besides the project's own `Stack`: an operator's process supervisor, a provider
that delivers signed webhooks until they are accepted, and a view of the task processes a worker runs.

Nothing here stands in for a part of the product: the supervisor restarts the real components the way
systemd's ``Restart=always`` would, and the provider posts to the real webhook routes of the API server.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg2

from devtools.stack import COMPONENTS, Stack
from include.security.hmac_signing import signed_headers


class Supervisor:
    """Restarts any Airflow component that exited (killed by the test or crashed on its own, e.g. while
    Postgres was away), after a short random pause, as an operator's process supervisor does."""

    def __init__(self, stack: Stack, *, min_pause_s: float = 0.5, max_pause_s: float = 2.0) -> None:
        self.stack = stack
        self.pauses = (min_pause_s, max_pause_s)
        self.lock = threading.Lock()
        self.restarts: Counter[str] = Counter()
        self.kills: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def kill(self, component: str) -> None:
        """SIGKILL the component's whole process group (with a LocalExecutor scheduler: its workers and their
        task processes too, as when the host running it dies)."""
        with self.lock:
            proc = self.stack.procs[component]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self.kills[component] += 1

    def _run(self) -> None:
        while not self._stop.wait(0.3):
            for component in COMPONENTS:
                with self.lock:
                    proc = self.stack.procs.get(component)
                    exited = proc is not None and proc.poll() is not None
                if exited:
                    time.sleep(random.uniform(*self.pauses))
                    with self.lock:
                        if not self._stop.is_set():
                            self.stack.start_component(component)
                            self.restarts[component] += 1


@dataclass
class Delivery:
    """One webhook as the sending system keeps it until the receiver accepted it (2xx)."""

    path: str
    secret: str
    body: dict[str, Any]
    copies: int = 2
    statuses: list[int | None] = field(default_factory=list)
    accepted_copies: int = 0

    @property
    def done(self) -> bool:
        return self.accepted_copies >= self.copies

    @property
    def event_id(self) -> str:
        return str(self.body["event_id"])


class Provider:
    """Posts signed webhooks to the API server's ingress; a copy not answered 2xx is sent again later
    (transport errors, 5xx while a component or Postgres restarts), as providers retry."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/") + "/webhooks", timeout=15)
        self.lock = threading.Lock()
        self.outbox: list[Delivery] = []
        self.sent: list[Delivery] = []
        self.attempts = 0
        self.refused: Counter[int | None] = Counter()
        self.rejected: list[tuple[int, str, dict[str, Any]]] = []  # final 4xx answers to valid webhooks

    def queue(self, delivery: Delivery) -> None:
        with self.lock:
            self.outbox.append(delivery)
            self.sent.append(delivery)

    def pending(self) -> int:
        with self.lock:
            return sum(d.copies - d.accepted_copies for d in self.outbox)

    def flush(self, *, shuffle: bool = True) -> None:
        """One attempt for every copy still owed, in random order across events (out-of-order delivery)."""
        with self.lock:
            copies = [d for d in self.outbox for _ in range(d.copies - d.accepted_copies)]
        if shuffle:
            random.shuffle(copies)
        for delivery in copies:
            self.post_once(delivery)
        with self.lock:
            self.outbox = [d for d in self.outbox if not d.done]

    def post_once(self, delivery: Delivery) -> int | None:
        body = json.dumps(delivery.body, separators=(",", ":")).encode()
        status: int | None = None
        try:
            resp = self.http.post(
                delivery.path, content=body, headers=signed_headers(delivery.secret, body, time.time())
            )
            status = resp.status_code
        except httpx.HTTPError:
            status = None
        with self.lock:
            self.attempts += 1
            delivery.statuses.append(status)
            if status is not None and 200 <= status < 300:
                delivery.accepted_copies += 1
            else:
                self.refused[status] += 1
            if status is not None and 400 <= status < 500 and status not in (408, 425, 429):
                # A valid webhook refused for good: the event would be lost. Recorded, and not sent again.
                self.rejected.append((status, delivery.path, delivery.body))
                delivery.copies = delivery.accepted_copies
        return status


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat()


def task_processes() -> dict[str, int]:
    """ti.id -> pid of every task process on this machine (Airflow 3 titles them `airflow worker -- <id>`)."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if cmdline.startswith("airflow worker -- "):
            found[cmdline.removeprefix("airflow worker -- ").split()[0]] = int(entry.name)
    return found


class Db:
    """Reads of one database that survive the database going away (None while it is down)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None

    def rows(self, query: str, *args: Any) -> list[tuple[Any, ...]] | None:
        for _ in range(2):
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = psycopg2.connect(self.url, connect_timeout=3)
                    self.conn.autocommit = True
                with self.conn.cursor() as cur:
                    cur.execute(query, args)
                    return list(cur.fetchall()) if cur.description else []
            except psycopg2.Error:
                with contextlib.suppress(Exception):
                    self.conn.close()
                self.conn = None
        return None

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
