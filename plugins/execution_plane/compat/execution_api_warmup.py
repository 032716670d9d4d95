"""The Execution API builds its routes on its first request, inside the API server's event loop, and every
request of the server waits for it.

Airflow 3.3.2 mounts ``create_task_execution_api_app()``, a ``cadwyn.Cadwyn`` app, at ``/execution``. Cadwyn
generates the versioned routers of every API version the first time the app is called
(``Cadwyn.__call__`` -> ``_cadwyn_initialize``: pydantic schemas for every route of every version),
synchronously, on the event loop that serves the whole API server. After every start of an API server the
first task, triggerer or dag-processor call to the Execution API therefore freezes the REST API, the UI,
the webhook ingress and the services for that long: 4.0-6.9 s on this 2-core machine (a py-spy dump of the
stalled server shows ``MainThread`` in ``generate_versioned_routers``; the services benchmark's health check
had one warm answer of 5.8 s from it). The root app's lifespan enters the Execution API's lifespan but
never calls the app, so the build is left to a real request.
Upstream: no report of this found (searched 2026-12: apache/airflow issues and PRs on the Execution API's
Cadwyn app, first-request latency and API server start-up; PR #47951 introduced the Cadwyn app).

Fix here: ``warm_up()``, awaited in the services app's lifespan (the root app's lifespan enters every
mounted app's before the server accepts connections), sends the mounted Execution API one request in
process (``GET /health``, which needs no credential) so Cadwyn builds its routers then: start-up takes those
seconds once, and no request waits for them. Canary: ``tests/plugins/compat/test_execution_api_warmup.py``.
When fixed (the canary's first test fails: a new Execution API app is built eagerly): delete the module and
its call in ``services/app.py``.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

log = logging.getLogger(__name__)

UPSTREAM_REPORT = "none found (searched 2026-12)"
MOUNT_PATH = "/execution"
# The module uvicorn serves (``airflow api-server`` runs ``uvicorn.run("airflow.api_fastapi.main:app")``).
SERVER_MODULE = "airflow.api_fastapi.main"


def mounted_execution_api(root: Any) -> Any | None:
    """The app ``root`` mounts at ``/execution``, or None."""
    from starlette.routing import Mount

    for route in getattr(root, "routes", ()):
        if isinstance(route, Mount) and route.path == MOUNT_PATH:
            return route.app
    return None


def needs_warm_up(app: Any) -> bool:
    """A Cadwyn app that has not built its versioned routers yet."""
    return getattr(app, "_cadwyn_initialized", True) is False


async def warm_up(root: Any | None = None) -> float | None:
    """Have the Execution API that ``root`` (default: the API server's app, when this process is one)
    mounts build its routes now; returns the seconds it took, None when there was nothing to do. Never
    raises: a failure is logged and the first real request builds them, as without this."""
    if root is None:
        server = sys.modules.get(SERVER_MODULE)
        root = getattr(server, "app", None) if server is not None else None
    app = mounted_execution_api(root) if root is not None else None
    if app is None or not needs_warm_up(app):
        return None
    import httpx

    started = time.perf_counter()
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://execution-api.warm-up") as client:
            await client.get("/health")
    except Exception as exc:  # start-up goes on; the first real request then pays, as without this
        log.warning("execution_plane.compat.execution_api_warmup: warm-up failed (%s)", exc)
        return None
    if needs_warm_up(app):
        log.warning("execution_plane.compat.execution_api_warmup: warm-up failed (routes still not built)")
        return None
    seconds = time.perf_counter() - started
    log.info(
        "Execution API routes built at start-up in %.1f s (execution_plane.compat.execution_api_warmup)",
        seconds,
    )
    return seconds
