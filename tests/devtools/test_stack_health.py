"""Stack.wait_healthy: a slow health answer is asked again until the deadline (CI once saw a 5 s read
timeout end a Celery stack's start-up at its first health request).

A real HTTP server on loopback plays the API server: it answers the first probe (``wait_http``), stalls the
next one past the stack's read timeout, then reports components starting, then healthy.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devtools import env as ep_env
from devtools.postgres import PostgresTarget
from devtools.stack import Setup, Stack

HEALTHY = {k: {"status": "healthy"} for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")}
STARTING = {**HEALTHY, "scheduler": {"status": None}}


class Answers:
    def __init__(self, script: list[tuple[float, dict[str, object]]]) -> None:
        self.script = script
        self.served = 0
        self.lock = threading.Lock()

    def next(self) -> tuple[float, dict[str, object]]:
        with self.lock:
            index = min(self.served, len(self.script) - 1)
            self.served += 1
        return self.script[index]


@pytest.fixture
def api() -> Iterator[tuple[int, Answers]]:
    answers = Answers([(0.0, STARTING), (1.0, STARTING), (0.0, STARTING), (0.0, HEALTHY)])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            delay, body = answers.next()
            time.sleep(delay)
            payload = json.dumps(body).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up on the stalled answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], answers
    finally:
        server.shutdown()
        server.server_close()


def stack_on(port: int) -> Stack:
    pg = PostgresTarget("server", "postgresql://u:p@127.0.0.1:5432", "server")
    stack = Stack(Setup(pg=pg, ports=ep_env.Ports(api=port), secrets=ep_env.Secrets.load_or_create(), env={}))
    stack.health_read_timeout_s = 0.3
    return stack


def test_a_health_answer_slower_than_the_read_timeout_is_asked_again(api: tuple[int, Answers]) -> None:
    port, answers = api
    body = stack_on(port).wait_healthy(timeout=20)
    assert body == HEALTHY
    # probe, the stalled answer (timed out), starting, healthy: the stall was met and outlived
    assert answers.served >= 4


def test_a_stack_that_never_gets_healthy_ends_at_the_deadline(api: tuple[int, Answers]) -> None:
    port, answers = api
    answers.script[:] = [(0.0, STARTING)]
    started = time.monotonic()
    with pytest.raises(SystemExit, match="not healthy within 2 s"):
        stack_on(port).wait_healthy(timeout=2)
    assert time.monotonic() - started >= 2
