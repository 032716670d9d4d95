"""Every route of the services app is behind Airflow's own authentication: no credential -> 401, an invalid
token -> 403, a valid user without the permission -> 403; the OpenAPI document and its docs page too.

The routes are enumerated from ``create_app().routes`` (part B's routers included), so a route added later
is covered without editing this file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from execution_plane.services.app import create_app
from tests.plugins.services.conftest import PREFIX, bearer

REPO = Path(__file__).resolve().parents[3]


def app_routes() -> list[tuple[str, str]]:
    found = []
    for route in create_app().routes:
        assert isinstance(route, APIRoute), f"unexpected route kind {type(route).__name__}: decide its auth"
        found += [(method, route.path) for method in sorted(route.methods or ())]
    return found


ROUTES = app_routes()
IDS = [f"{m} {p}" for m, p in ROUTES]


def call(client: TestClient, method: str, path: str, headers: dict[str, str] | None = None) -> Any:
    concrete = path.replace("{", "").replace("}", "")  # any value: authentication comes first
    return client.request(method, PREFIX + concrete, json={}, headers=headers or {})


def test_the_documented_routes_of_part_a_are_there() -> None:
    assert {
        ("POST", "/lead-scores"),
        ("POST", "/trust-scores"),
        ("POST", "/audit-events"),
        ("GET", "/health"),
        ("GET", "/dashboard"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
    } <= set(ROUTES)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=IDS)
def test_without_a_token_every_route_is_401(services_client: TestClient, method: str, path: str) -> None:
    response = call(services_client, method, path)
    assert response.status_code == 401, response.text
    assert response.json() == {"error": "unauthenticated", "message": "Not authenticated", "field": None}
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("POST", "/lead-scores", b"{not json"),  # FastAPI parses a body before a route's dependencies
        ("POST", "/audit-events", b"\x00"),
        ("GET", "/no-such-route", b""),
        ("DELETE", "/dashboard", b""),
    ],
)
def test_nothing_is_answered_to_an_anonymous_caller_before_authentication(
    services_client: TestClient, method: str, path: str, content: bytes
) -> None:
    response = services_client.request(
        method, PREFIX + path, content=content, headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()["error"]) == (401, "unauthenticated")


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=IDS)
@pytest.mark.parametrize("token", ["garbage", "eyJhbGciOiJIUzUxMiJ9.e30.c2ln"])
def test_an_invalid_token_is_403(services_client: TestClient, method: str, path: str, token: str) -> None:
    response = call(services_client, method, path, bearer(token))
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "forbidden"


def test_a_token_of_another_secret_is_refused(services_client: TestClient) -> None:
    import jwt

    forged = jwt.encode({"sub": "admin", "role": "admin"}, "not-the-secret" * 5, algorithm="HS512")
    assert call(services_client, "GET", "/dashboard", bearer(forged)).status_code == 403


def access(method: str, path: str) -> str:
    """What the route's ``services.auth`` check asks the auth manager: "post", "get" or "login" (docs)."""
    [route] = [
        r for r in create_app().routes if isinstance(r, APIRoute) and r.path == path and method in r.methods
    ]
    names = [getattr(d.call, "__name__", "") for d in route.dependant.dependencies]
    for name in names:
        if name.startswith(("may_post_", "may_get_")):
            return name.split("_")[1]
    return "login"


WRITES = [(m, p) for m, p in ROUTES if access(m, p) == "post"]
READS = [(m, p) for m, p in ROUTES if access(m, p) != "post"]


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_a_viewer_may_not_write(
    services_client: TestClient, tokens: dict[str, str], method: str, path: str
) -> None:
    response = call(services_client, method, path, bearer(tokens["viewer"]))
    assert (response.status_code, response.json()["error"]) == (403, "forbidden"), response.text


@pytest.mark.parametrize(("method", "path"), READS, ids=[f"{m} {p}" for m, p in READS])
def test_a_user_the_auth_manager_grants_nothing_may_not_read(
    services_client: TestClient, tokens: dict[str, str], method: str, path: str
) -> None:
    response = call(services_client, method, path, bearer(tokens["no_role"]))
    if access(method, path) == "login":  # the docs need a login only
        assert response.status_code == 200, response.text
    else:
        assert (response.status_code, response.json()["error"]) == (403, "forbidden"), response.text


@pytest.mark.parametrize("who", ["viewer", "user", "service", "admin"])
def test_reads_are_allowed_to_every_role(
    services_client: TestClient, tokens: dict[str, str], who: str
) -> None:
    response = services_client.get(f"{PREFIX}/dashboard", headers=bearer(tokens[who]))
    assert response.status_code == 200, response.text


def test_docs_and_openapi_with_a_login(services_client: TestClient, tokens: dict[str, str]) -> None:
    doc = services_client.get(f"{PREFIX}/openapi.json", headers=bearer(tokens["viewer"]))
    assert doc.status_code == 200
    paths = doc.json()["paths"]
    assert {"/lead-scores", "/trust-scores", "/audit-events", "/health", "/dashboard"} <= set(paths)
    assert "/docs" not in paths and "/openapi.json" not in paths
    # Every documented operation declares the bearer/OAuth2 security Airflow's own API declares.
    for item in paths.values():
        for operation in item.values():
            assert operation.get("security"), operation["operationId"]
    page = services_client.get(f"{PREFIX}/docs", headers=bearer(tokens["viewer"]))
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert f"url: '{PREFIX}/openapi.json'" in page.text  # where the API server mounts the app


def test_the_ui_session_cookie_is_accepted(services_client: TestClient, tokens: dict[str, str]) -> None:
    services_client.cookies.set("_token", tokens["viewer"])
    try:
        assert services_client.get(f"{PREFIX}/docs").status_code == 200
    finally:
        services_client.cookies.clear()


def test_every_route_declares_a_services_auth_dependency() -> None:
    """Not left to the 401 test alone: a route's own dependency list names one of services.auth's checks."""
    for route in create_app().routes:
        assert isinstance(route, APIRoute)
        names = {getattr(d.call, "__qualname__", "") for d in route.dependant.dependencies}
        assert any(n.startswith(("service_access.", "authenticated.")) for n in names), (route.path, names)


def test_the_plugin_mounts_the_app_under_services() -> None:
    from airflow.api_fastapi.app import RESERVED_URL_PREFIXES

    from execution_plane.plugin import ExecutionPlanePlugin

    [entry] = [a for a in ExecutionPlanePlugin.fastapi_apps if a["url_prefix"] == "/services"]
    assert entry["name"] == "Execution Plane services"
    assert not any(entry["url_prefix"].startswith(p) for p in RESERVED_URL_PREFIXES)


def test_importing_the_plugin_touches_no_database_and_loads_no_airflow_security() -> None:
    """Every Airflow component imports plugins: no pool, no connection, and not Airflow's security module
    (~1.5 s of imports) until a request arrives."""
    script = textwrap.dedent(
        """
        import sys
        import execution_plane.plugin
        from execution_plane.services import db
        assert not db.POOL.opened
        assert "airflow.api_fastapi.core_api.security" not in sys.modules
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'plugins'}",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://nobody@127.0.0.1:9/none",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_airflow_starts_the_apps_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API server's lifespan enters the mounted services app's, which loads the first request's needs."""
    from airflow.api_fastapi.app import lifespan
    from fastapi import FastAPI

    from execution_plane.services import app as services_app

    calls: list[str] = []
    monkeypatch.setattr(services_app, "warm_up", lambda: calls.append("warm_up"))
    root = FastAPI(lifespan=lifespan)
    root.mount(PREFIX, create_app())
    with TestClient(root):
        assert calls == ["warm_up"]


def test_the_warm_up_opens_a_pooled_connection(business_db: Any) -> None:
    from execution_plane.services import app as services_app
    from execution_plane.services import db

    db.close_pool()
    services_app.warm_up()
    assert db.POOL.opened
    assert "airflow.api_fastapi.core_api.security" in sys.modules
