"""Canary of ``execution_plane.compat.execution_api_warmup``: Airflow's Execution API (a Cadwyn app) builds
its routes on its first request, not when the API server builds or starts it.

Airflow's own ``create_task_execution_api_app()`` and lifespan, in process. Deterministic: whether the routes
exist is asked of the app, never timed (the build's seconds are printed, not asserted).
"""

from __future__ import annotations

import asyncio
import sys
import time
import types
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from execution_plane.compat import execution_api_warmup


def execution_api() -> Any:
    from airflow.api_fastapi.execution_api.app import create_task_execution_api_app

    return create_task_execution_api_app()


def root_with(app: Any) -> FastAPI:
    """A root app that mounts the Execution API as Airflow's ``create_app`` does."""
    root = FastAPI()
    root.mount(execution_api_warmup.MOUNT_PATH, app)
    return root


async def started(app: Any) -> None:
    """What Airflow's root lifespan does to a mounted app: enter its lifespan (and leave it)."""
    async with app.router.lifespan_context(app):
        pass


def test_airflow_builds_the_execution_api_routes_on_the_first_request_not_at_start() -> None:
    app = execution_api()
    asyncio.run(started(app))
    assert execution_api_warmup.needs_warm_up(app), (
        "Airflow now builds the Execution API's routes before its first request: "
        "execution_plane.compat.execution_api_warmup may go"
    )

    async def first_request() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            return (await client.get("/health")).status_code

    began = time.perf_counter()
    assert asyncio.run(first_request()) == 200
    print(f"the first request built the routes in {time.perf_counter() - began:.2f} s")
    assert not execution_api_warmup.needs_warm_up(app)


def test_the_warm_up_builds_them_in_the_api_servers_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """``airflow api-server`` serves ``airflow.api_fastapi.main:app``; the lifespan finds it there and has
    its Execution API build the routes before the server serves."""
    app = execution_api()
    server = types.ModuleType(execution_api_warmup.SERVER_MODULE)
    server.app = root_with(app)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, execution_api_warmup.SERVER_MODULE, server)
    seconds = asyncio.run(execution_api_warmup.warm_up())
    assert seconds is not None and seconds > 0
    assert not execution_api_warmup.needs_warm_up(app)
    # Built once: a second warm-up has nothing to do.
    assert asyncio.run(execution_api_warmup.warm_up(server.app)) is None  # type: ignore[attr-defined]


def test_outside_an_api_server_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, execution_api_warmup.SERVER_MODULE, raising=False)
    assert asyncio.run(execution_api_warmup.warm_up()) is None
    # A root without the Execution API (AIRFLOW_API_APPS=core) neither.
    assert asyncio.run(execution_api_warmup.warm_up(FastAPI())) is None


def test_a_failing_warm_up_does_not_stop_the_start(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        _cadwyn_initialized = False

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            raise RuntimeError("router build failed")

    root = FastAPI()
    root.mount(execution_api_warmup.MOUNT_PATH, Broken())
    assert asyncio.run(execution_api_warmup.warm_up(root)) is None
    assert "warm-up failed" in caplog.text
