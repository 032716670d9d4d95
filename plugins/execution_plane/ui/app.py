"""The Workflows page's app, mounted by the plugin at ``/workflows`` in Airflow's API server.

    GET /workflows/                         the list (HTML): filters, search, pages
    GET /workflows/w/<workflow_id>          one workflow (HTML): timeline, documents, evidence, audit
    GET /workflows/charts                   the charts (HTML, SVG drawn here)
    GET /workflows/export.csv               the list as filtered, every page, as CSV
    GET /workflows/api/workflows[/<id>]     the same as JSON
    GET /workflows/api/charts

Airflow mounts plugin apps without authentication (apache/airflow docs PR #72655). Here every request is
resolved to an Airflow user before routing (``services.auth.Authenticated``: the UI's session cookie, which
the page inside Airflow's UI frame carries, or a bearer token; 401 without one, 403 for a bad one), then each
route declares Airflow's own ``requires_access_dag("GET", RUN)`` (may this user read DAG runs at all?) and
reads only the workflows of the DAGs ``get_authorized_dag_ids`` returns for that user. A browser is answered
with a page (a refusal links to Airflow's login), anything else with the services' JSON error shape.

Endpoints are plain ``def``: they block on both databases and run in the thread pool. Building the app
imports nothing of Airflow's API, no template engine and no database driver: every Airflow component
imports the plugin, the API server alone serves the page.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from execution_plane.services.auth import Authenticated, User, refusal
from execution_plane.services.errors import ServiceError, error_body, http_error_code
from execution_plane.ui.filters import FilterError, ListFilters, parse
from execution_plane.ui.models import Charts, WorkflowDetail, WorkflowList

if TYPE_CHECKING:
    from execution_plane.ui.workflows import Links

URL_PREFIX = "/workflows"


def may_read_workflows(request: Request, user: User) -> None:
    """Airflow's own check: may this user read DAG runs (403 otherwise). Which DAGs: each answer filters."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag

    requires_access_dag("GET", DagAccessEntity.RUN)(request, user)


READ = [Depends(may_read_workflows)]


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def page_base(request: Request) -> str:
    """Where this app is mounted (``/workflows``, under Airflow's own base path when it has one)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def airflow_base() -> str:
    """The path of Airflow's UI (``[api] base_url``), which run links start with."""
    from urllib.parse import urlparse

    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="/") or "/"
    return (urlparse(base).path if base.startswith(("http://", "https://")) else base).rstrip("/")


def links(request: Request) -> Links:
    from execution_plane.ui.workflows import Links

    return Links(airflow=airflow_base(), page=page_base(request))


def login_url() -> str:
    from airflow.api_fastapi.app import get_auth_manager

    try:
        return str(get_auth_manager().get_url_login())
    except Exception:  # an auth manager without a login page: Airflow's UI sends the user there itself
        return airflow_base() + "/"


def refuse(request: Request, exc: HTTPException) -> Response:
    from execution_plane.ui import pages

    if not wants_html(request):
        return refusal(request, exc)
    login = login_url() if exc.status_code == 401 else None
    page = pages.error_page(exc.status_code, str(exc.detail), None, page_base(request), login=login)
    return HTMLResponse(page, status_code=exc.status_code)


def _error(request: Request, status: int, error: str, message: str, field: str | None) -> Response:
    from execution_plane.ui import pages

    if wants_html(request):
        return HTMLResponse(pages.error_page(status, message, field, page_base(request)), status_code=status)
    return JSONResponse(error_body(error, message, field), status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FilterError)
    async def bad_filter(request: Request, exc: FilterError) -> Response:
        return _error(request, 422, "invalid_request", f"{exc.field}: {exc.message}", exc.field)

    @app.exception_handler(ServiceError)
    async def refused(request: Request, exc: ServiceError) -> Response:
        return _error(request, exc.status_code, exc.error, exc.message, exc.field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = _error(request, exc.status_code, http_error_code(exc.status_code), str(exc.detail), None)
        if exc.status_code == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response


def filters_of(request: Request) -> ListFilters:
    return parse(request.query_params.multi_items())


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def create_app() -> FastAPI:
    app = FastAPI(
        title="Execution Plane workflows",
        description="Business workflows as an analyst asks about them; behind Airflow's login.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(Authenticated, refuse=refuse)

    @app.get("/", dependencies=READ, response_class=HTMLResponse)
    def list_html(request: Request, user: User) -> HTMLResponse:
        from execution_plane.ui import pages, workflows

        started = time.perf_counter()
        filters = filters_of(request)
        data = workflows.list_page(user, filters, links(request))
        return HTMLResponse(pages.list_page(data, filters, page_base(request), _ms(started)))

    @app.get("/w/{workflow_id}", dependencies=READ, response_class=HTMLResponse)
    def detail_html(request: Request, user: User, workflow_id: str) -> HTMLResponse:
        from execution_plane.ui import pages, workflows

        started = time.perf_counter()
        data = workflows.workflow_page(user, workflow_id, links(request))
        return HTMLResponse(pages.detail_page(data, page_base(request), _ms(started)))

    @app.get("/charts", dependencies=READ, response_class=HTMLResponse)
    def charts_html(request: Request, user: User) -> HTMLResponse:
        from execution_plane.ui import pages, workflows

        started = time.perf_counter()
        filters = filters_of(request)
        data = workflows.charts(user, filters)
        return HTMLResponse(pages.charts_page(data, filters, page_base(request), _ms(started)))

    @app.get("/export.csv", dependencies=READ)
    def export_csv(request: Request, user: User) -> StreamingResponse:
        from execution_plane.ui import workflows

        file, rows = workflows.export(user, filters_of(request), links(request))
        return StreamingResponse(
            workflows.chunks(file),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="workflows.csv"',
                "X-Workflow-Count": str(rows),
            },
        )

    @app.get("/api/workflows", dependencies=READ)
    def list_json(request: Request, user: User) -> WorkflowList:
        from execution_plane.ui import workflows

        return workflows.list_page(user, filters_of(request), links(request))

    @app.get("/api/workflows/{workflow_id}", dependencies=READ)
    def detail_json(request: Request, user: User, workflow_id: str) -> WorkflowDetail:
        from execution_plane.ui import workflows

        return workflows.workflow_page(user, workflow_id, links(request))

    @app.get("/api/charts", dependencies=READ)
    def charts_json(request: Request, user: User) -> Charts:
        from execution_plane.ui import workflows

        return workflows.charts(user, filters_of(request))

    return app


def external_view() -> dict[str, Any]:
    """The page's entry in Airflow's navigation: an iframe of this app's list inside Airflow's UI."""
    return {
        "name": "Workflows",
        "href": f"{airflow_base()}{URL_PREFIX}/",
        "destination": "nav",
        "url_route": "workflows",
        "nav_top_level": True,
    }
