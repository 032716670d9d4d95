"""No route of the plugin's app answers an unauthenticated request, except ``GET /health``.

The routes are enumerated from ``create_app().routes``, so a route added later is covered without editing
this file (and a route of an unexpected kind fails the test until someone decides how it authenticates).
Airflow's own API requiring a login is covered by the live tests against the running API server.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from execution_plane.webhooks.app import OUTSIDE_SOURCES, create_app
from include.security.hmac_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.plugins.webhooks.webhook_support import esign_body
from tests.security.security_support import WriteProbe, assert_refusal_shape, dumps

PUBLIC = {("GET", "/health")}
"""The only unauthenticated answer: no data, no side effect."""

PATH_VALUES = {"source": sorted(OUTSIDE_SOURCES)[0]}
"""A valid value per path parameter, so the request reaches the authentication check."""


def plugin_routes() -> list[tuple[str, str]]:
    routes: list[tuple[str, str]] = []
    for route in create_app().routes:
        if not isinstance(route, APIRoute):
            # Starlette Route/Mount/WebSocketRoute: not covered by this test's reasoning; decide first.
            raise AssertionError(
                f"unexpected route kind {type(route).__name__} at {getattr(route, 'path', '?')}"
            )
        for method in sorted(route.methods or ()):
            routes.append((method, route.path))
    return routes


def concrete(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":", 1)[0]
        assert name in PATH_VALUES, f"no test value for path parameter {name!r} of {path}"
        return PATH_VALUES[name]

    return re.sub(r"\{([^}]+)\}", value, path)


PROTECTED = [r for r in plugin_routes() if r not in PUBLIC]


def test_the_app_has_the_documented_routes() -> None:
    """A guard on the enumeration itself (README: the only routes; no /docs, no /openapi.json)."""
    assert sorted(plugin_routes()) == sorted(
        [("GET", "/health"), ("POST", "/crm/events"), ("POST", "/esign"), ("POST", "/events/{source}")]
    )


def test_health_answers_without_credentials_and_returns_no_data(app_client: TestClient) -> None:
    response = app_client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
@pytest.mark.parametrize(
    "credentials",
    [
        "none",
        "signature-only",
        "timestamp-only",
        "empty-headers",
        "garbage",
        "bearer-token",
        "basic-auth",
        "wrong-secret",
        "secret-as-signature",
    ],
)
def test_route_refuses_unauthenticated_requests(
    app_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    tag: str,
    method: str,
    path: str,
    credentials: str,
) -> None:
    raw = dumps(esign_body(tag))
    ts = str(int(time.time()))
    some_secret = next(iter(secrets.values()))
    headers: dict[str, Any] = {"Content-Type": "application/json"}
    headers.update(
        {
            "none": {},
            "signature-only": {SIGNATURE_HEADER: sign("x", int(ts), raw)},
            "timestamp-only": {TIMESTAMP_HEADER: ts},
            "empty-headers": {TIMESTAMP_HEADER: "", SIGNATURE_HEADER: ""},
            "garbage": {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: "sha256=" + "0" * 64},
            "bearer-token": {TIMESTAMP_HEADER: ts, "Authorization": f"Bearer {some_secret}"},
            "basic-auth": {TIMESTAMP_HEADER: ts, "Authorization": "Basic YWRtaW46YWRtaW4="},
            "wrong-secret": {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign("not-the-secret", int(ts), raw)},
            "secret-as-signature": {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: f"sha256={some_secret}"},
        }[credentials]
    )
    with writes.watch(raw) as written:
        response = app_client.request(method, concrete(path), content=raw, headers=headers)
        written(response)
    answer = assert_refusal_shape(response)
    assert (response.status_code, answer["error"]) == (401, "invalid_signature"), answer
    assert answer["field"] in {TIMESTAMP_HEADER, SIGNATURE_HEADER}


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_every_protected_route_authenticates_before_anything_else(method: str, path: str) -> None:
    """The handler's first statement is ``authenticate(request, body, <ITS>_CONN_ID)``: nothing of an
    unauthenticated body (or path parameter) is interpreted before the signature check."""
    import ast
    import inspect
    import textwrap

    route = next(r for r in create_app().routes if isinstance(r, APIRoute) and r.path == path)
    [function] = ast.parse(textwrap.dedent(inspect.getsource(route.endpoint))).body
    assert isinstance(function, ast.FunctionDef)
    body = function.body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # docstring
    first = body[0]
    assert isinstance(first, ast.Expr) and isinstance(first.value, ast.Call), ast.unparse(first)
    call = first.value
    assert ast.unparse(call.func) == "authenticate", ast.unparse(first)
    assert re.fullmatch(r"[A-Z]+_CONN_ID", ast.unparse(call.args[2])), ast.unparse(first)
