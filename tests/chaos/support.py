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

from devtools.stack import CELERY_WORKER, Stack
from include.security.hmac_signing import signed_headers


def process_title(pid: int) -> str | None:
    """The process's command line as `ps` shows it (its title, once it set one), or None once it is gone, a
    zombie (dead, only not reaped yet) or exiting (its memory, so its command line, already released)."""
    proc = Path("/proc") / str(pid)
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return None
        title = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except (OSError, IndexError):
        return None
    return title or None


def is_component(title: str | None, component: str) -> bool:
    """`airflow scheduler` ..., or the title the API server gives itself (`airflow api_server -- ...`), or a
    Celery worker's (`[celeryd: <metadata db>-celery-worker-1@<host>:MainProcess] ...`)."""
    if component.startswith(CELERY_WORKER):
        return f"-{component}@" in (title or "")  # its node name, in its arguments and in its title
    words = (title or "").split()
    return any(w.endswith("airflow") for w in words) and (
        component in words or any(w == component.replace("-", "_") for w in words)
    )


@dataclass
class Kill:
    """One SIGKILL the test counts: the process was alive and was what the test meant to kill, and it died."""

    target: str
    pid: int
    title: str
    at: float


def kill_task_process(pid: int, ti_id: str, target: str, timeout_s: float = 10) -> Kill | None:
    """SIGKILL the task process of task instance ``ti_id``; None (nothing counted) when ``pid`` is no longer
    that task's process. Raises if it outlives the kill."""
    title = process_title(pid)
    if title != f"airflow worker -- {ti_id}":
        return None
    at = time.time()
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + timeout_s
    while process_title(pid) == title:
        if time.monotonic() > deadline:
            raise AssertionError(f"task process {pid} ({title}) still alive {timeout_s} s after SIGKILL")
        time.sleep(0.05)
    return Kill(target, pid, title, at)


class Supervisor:
    """Restarts any Airflow component that exited (killed by the test or crashed on its own, e.g. while
    Postgres was away), after a short random pause, as an operator's process supervisor does."""

    def __init__(self, stack: Stack, *, min_pause_s: float = 0.5, max_pause_s: float = 2.0) -> None:
        self.stack = stack
        self.pauses = (min_pause_s, max_pause_s)
        self.lock = threading.Lock()
        self.restarts: Counter[str] = Counter()
        self.kills: Counter[str] = Counter()
        self.kill_log: list[Kill] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def kill(self, *components: str) -> bool:
        """SIGKILL each component's whole process group (with a LocalExecutor scheduler: its workers and their
        task processes too, as when the host running it dies), all at one moment.

        Only when every one of them is running now (a component that crashed on its own and waits for its
        restart is not killed): False, and nothing killed or counted, otherwise. Each kill is checked: the
        pid was the component's live process, and it ended by the SIGKILL."""
        with self.lock:
            procs = {c: self.stack.procs[c] for c in components}
            titles = {c: process_title(p.pid) for c, p in procs.items()}
            if any(p.poll() is not None or not is_component(titles[c], c) for c, p in procs.items()):
                return False
            for component, proc in procs.items():
                at = time.time()
                os.killpg(proc.pid, signal.SIGKILL)
                returncode = proc.wait()
                assert returncode == -signal.SIGKILL, (component, proc.pid, returncode)
                self.kills[component] += 1
                self.kill_log.append(Kill(component, proc.pid, str(titles[component]), at))
            return True

    def _run(self) -> None:
        while not self._stop.wait(0.3):
            for component in self.stack.components:  # with a Celery executor, its workers too
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


def kill_component(stack: Stack, component: str) -> Kill:
    """SIGKILL a running component's process group (no supervisor: the test restarts it), checked as
    ``Supervisor.kill`` checks it."""
    proc = stack.procs[component]
    title = process_title(proc.pid)
    assert proc.poll() is None and is_component(title, component), (component, proc.pid, title)
    at = time.time()
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, (component, proc.pid, proc.returncode)
    return Kill(component, proc.pid, str(title), at)


def esign_call_in_flight(sandbox: httpx.Client, idempotency_key: str) -> bool:
    """Whether the eSign sandbox is executing a request with this Idempotency-Key right now.

    The provider answers 409 `idempotency_key_in_use` to a request with the key of one still executing (before
    it compares bodies); the probe's empty body is refused before any work (422) otherwise, so it never
    creates anything. Call it only when no eSign fault is pending (the probe would take it), and not right as
    a call starts: between taking its fault and claiming its key the provider reads the call's body, and a
    probe in that moment would claim the key first and get the call itself a 409."""
    resp = sandbox.post(
        "/esign/v1/envelopes",
        json={},
        headers={"Authorization": "Bearer chaos-probe", "Idempotency-Key": idempotency_key},
    )
    in_use = resp.status_code == 409 and resp.json().get("error") == "idempotency_key_in_use"
    assert in_use or resp.status_code == 422, (resp.status_code, resp.text)
    return in_use


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
