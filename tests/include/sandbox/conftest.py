"""Fixtures for the sandbox tests: an app on fresh state, a TestClient with and without credentials, a
webhook receiver on a loopback port that checks signatures, and a real uvicorn server when timing matters."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from devtools.env import free_port
from include.sandbox.app import create_app
from include.sandbox.state import SandboxConfig, SandboxState
from tests.include.sandbox.sandbox_testkit import (
    AUTH,
    SECRETS,
    Receiver,
    envelope_body,
    handler_for,
)

with warnings.catch_warnings():
    # Starlette nudges towards httpx2 at import time; the TestClient works the same with httpx.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(receiver))
    receiver.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def config(receiver: Receiver) -> SandboxConfig:
    return SandboxConfig(
        webhook_base=f"{receiver.base_url}/webhooks",
        esign_secret=SECRETS["esign"],
        events_secret=SECRETS["events"],
        crm_secret=SECRETS["crm"],
        webhook_timeout_s=2.0,
        webhook_backoff_s=0.01,
    )


@pytest.fixture
def state(config: SandboxConfig) -> SandboxState:
    return SandboxState(config)


@pytest.fixture
def app(state: SandboxState) -> FastAPI:
    return create_app(state=state)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers=AUTH) as test_client:
        yield test_client


@pytest.fixture
def anon(app: FastAPI) -> Iterator[TestClient]:
    """Same app, no credentials: what an unconfigured hook would look like."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def live_url(app: FastAPI) -> Iterator[str]:
    """The same app behind a real uvicorn server, for client timeouts and concurrent requests."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def envelope_request() -> Callable[..., dict[str, Any]]:
    """A valid create-envelope body; keyword arguments override fields."""
    return envelope_body


@pytest.fixture
def effect_count(client: TestClient) -> Callable[[str, str], int]:
    """How many times the sandbox executed (system, action): the "exactly once" check."""

    def count(system: str, action: str) -> int:
        response = client.get("/_sandbox/effects", params={"system": system, "action": action})
        found: int = response.json()["count"]
        return found

    return count
