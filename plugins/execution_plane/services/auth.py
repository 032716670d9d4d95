"""Airflow's own authentication and authorization for the services routes.

Airflow mounts plugin apps without any authentication (apache/airflow docs PR #72655): every route here
declares one of the dependencies below. They authenticate exactly as Airflow's REST API does, with its own
code: the bearer token from ``POST /auth/token`` (or the UI's ``_token`` cookie) resolved by
``airflow.api_fastapi.core_api.security.get_user`` (401 without a credential, 403 for an invalid one), and
the decision is the configured auth manager's (``get_auth_manager()``; ``AuthManagerDep`` reads the
sub-app's state and fails inside a plugin).

A service is authorized as the workflow it is: the DAG whose id is its inventory key
(``execution_plane.catalog``: ``lead_scoring``, ``trust_score_calculation``, ...), ``RUN`` entity, ``POST``
to run it (a write) and ``GET`` to read. An auth manager with per-DAG permissions can grant one service
without the others; the shipped roles (execution_plane.compat.fab_auth_manager) give ``GET`` to every
signed-in role and ``POST`` to ``Ops`` and ``Service``; Simple auth manager, to viewers and to users and
above. The DAG id is fixed here, never read from the request, unlike ``requires_access_dag`` (it falls
back to a ``dag_id`` query parameter, which would let a caller choose what it is checked against).

Authentication happens twice over, on purpose. ``Authenticated`` (an ASGI middleware around the whole app)
resolves the caller before routing and before any body is read: FastAPI parses a route's JSON body before
its dependencies run, so without it a malformed body would be answered 422 to an anonymous caller, and an
unknown path 404. The route dependencies then authorize (and document the security scheme in the OpenAPI
document); they reuse the user the middleware resolved.

Airflow's security module is imported when a request arrives, not when the plugin is imported: it pulls in
Airflow's models and costs ~1.5 s, and every Airflow component imports the plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from execution_plane.services.errors import error_body, http_error_code

# The schemes Airflow's REST API declares, so the OpenAPI document (and /docs) shows how to authenticate.
oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/auth/token",
    auto_error=False,
    description="A JWT from Airflow: POST /auth/token {username, password}; send it as a bearer token.",
)
bearer_scheme = HTTPBearer(auto_error=False)

_USER_KEY = "ep_services_user"  # request.state key the middleware stores the resolved user under


async def _resolve(request: Request, bearer: HTTPAuthorizationCredentials | None) -> Any:
    from airflow.api_fastapi.core_api.security import get_user

    return await get_user(request, _oauth_token=None, bearer_credentials=bearer)


def refusal(request: Request, exc: HTTPException) -> Response:
    """The services' answer to a request without a valid credential: the shared JSON error shape."""
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return JSONResponse(
        error_body(http_error_code(exc.status_code), str(exc.detail), None),
        status_code=exc.status_code,
        headers=headers,
    )


class Authenticated:
    """Every request must carry a credential Airflow resolves to a user (bearer token or the UI's cookie):
    401 without one, 403 for an invalid one, before routing and before the body is read. ``refuse`` builds
    that answer (an app of HTML pages answers a browser with a page)."""

    def __init__(self, app: ASGIApp, refuse: Callable[[Request, HTTPException], Response] = refusal) -> None:
        self.app = app
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            user = await _resolve(request, await bearer_scheme(request))
        except HTTPException as exc:
            await self.refuse(request, exc)(scope, receive, send)
            return
        scope.setdefault("state", {})[_USER_KEY] = user
        await self.app(scope, receive, send)


async def current_user(
    request: Request,
    oauth_token: Annotated[str | None, Depends(oauth2_scheme)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Any:
    """The Airflow user of the request (Airflow's ``get_user``): 401 without a credential, 403 if invalid."""
    resolved = getattr(request.state, _USER_KEY, None)
    if resolved is not None:
        return resolved
    return await _resolve(request, bearer)


User = Annotated[Any, Depends(current_user)]


def authenticated() -> Callable[..., None]:
    """Any authenticated user (Airflow's ``requires_authenticated``)."""

    def check(request: Request, user: User) -> None:
        from airflow.api_fastapi.core_api.security import requires_authenticated

        requires_authenticated()(request, user)

    return check


def service_access(service: str, method: Literal["GET", "POST"]) -> Callable[..., None]:
    """The auth manager allows ``method`` on runs of the DAG ``service`` (403 otherwise)."""

    def check(user: User) -> None:
        from airflow.api_fastapi.app import get_auth_manager
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
        from fastapi import HTTPException, status

        allowed = get_auth_manager().is_authorized_dag(
            method=method, access_entity=DagAccessEntity.RUN, details=DagDetails(id=service), user=user
        )
        if not allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")

    check.__name__ = f"may_{method.lower()}_{service}"
    return check
