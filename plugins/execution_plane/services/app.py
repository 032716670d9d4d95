"""The services app: the short-lived workflows as synchronous HTTP routes, mounted by the plugin at
``/services`` in Airflow's API server.

Every route is behind Airflow's own authentication (``services.auth``): a bearer token from
``POST /auth/token`` (or the UI's session cookie), then the auth manager's decision. The OpenAPI document
(``/services/openapi.json``) and its Swagger UI (``/services/docs``) need an authenticated user too: they
describe the business API (lead, partner and audit fields), which nobody without an Airflow login needs to
see; a UI user opens /services/docs with the session cookie the UI already holds, a machine sends its
token. No route of this app answers an anonymous request (tests/plugins/services/test_services_auth.py
enumerates them).

Endpoints that touch the database are plain ``def`` (run in the thread pool); building the app touches no
database or connection (the plugin builds it at import, in every Airflow component). The API server starts
the app's lifespan (``airflow.api_fastapi.app.lifespan`` enters every mounted app's): ``warm_up`` loads then
what the first request would otherwise wait for (Airflow's security module, the Task SDK's connection
lookup, one pooled database connection), so a cold first request is not seconds slower than the next;
then it has Airflow's Execution API build its routes (``execution_plane.compat.execution_api_warmup``: it
would otherwise do so on the first task's call, freezing every route of the server for seconds).

Adding a service: write ``routes/<service>.py`` with an ``APIRouter`` whose every route declares a
``services.auth`` dependency, and add one ``app.include_router(...)`` line below.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from execution_plane.compat import execution_api_warmup
from execution_plane.services.auth import Authenticated, authenticated
from execution_plane.services.errors import install_error_handlers
from execution_plane.services.routes import (
    audit,
    classification,
    dashboard,
    dialect,
    health,
    lead_scoring,
    retrieval,
    trust_score,
)

log = logging.getLogger(__name__)

TITLE = "Execution Plane services"
VERSION = "1"


def warm_up() -> None:
    """What the first request needs, loaded at server start; a database that is down is only logged."""
    for module in (
        "airflow.api_fastapi.core_api.security",
        "airflow.api_fastapi.auth.managers.models.resource_details",
        "airflow.sdk",
    ):
        importlib.import_module(module)
    from execution_plane.services import db

    try:
        db.transaction(lambda cur: cur.execute("SELECT 1"))
    except Exception as exc:  # the routes answer 503 until it is back; the server must still start
        log.warning("services: business database not reachable at start (%s)", exc)
    # Part B: the local models (JSON files, ~0.1 s each) and the knowledge store's pool and readiness check.
    from execution_plane.services import knowledge_store
    from include.services.classification.classifier import load_model as classification_model
    from include.services.dialect.detector import load_model as dialect_model

    classification_model()
    dialect_model()
    try:
        knowledge_store.transaction(lambda cur: None)
    except Exception as exc:  # retrieval answers 503 with the reason until the store is ready
        log.warning("services: knowledge store not ready at start (%s)", exc)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await anyio.to_thread.run_sync(warm_up)
    # Not ours, but every request of the server would wait for it: compat.execution_api_warmup.
    await execution_api_warmup.warm_up()
    yield


def create_app() -> FastAPI:
    """Build the app; cheap and database-free."""
    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description=(
            "The short-lived workflows of the inventory as services. Authenticate as for Airflow's REST API: "
            "`POST /auth/token` with `{username, password}`, then `Authorization: Bearer <access_token>`."
        ),
        # Served below, behind authentication, instead of FastAPI's open defaults.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(Authenticated)
    _add_docs(app)

    # One line per service router (each route declares its own services.auth dependency).
    app.include_router(lead_scoring.router)
    app.include_router(trust_score.router)
    app.include_router(audit.router)
    app.include_router(health.router)
    app.include_router(dashboard.router)
    app.include_router(classification.router)
    app.include_router(dialect.router)
    app.include_router(retrieval.router)

    return app


def _add_docs(app: FastAPI) -> None:
    signed_in = [Depends(authenticated())]

    @app.get("/openapi.json", include_in_schema=False, dependencies=signed_in)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=signed_in)
    def docs(request: Request) -> HTMLResponse:
        # root_path is where the API server mounted this app (/services, under Airflow's own base path).
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title=f"{TITLE} - docs")
