"""Schemathesis against the services app's own OpenAPI document (``create_app().openapi()``, what
``/services/openapi.json`` serves), with a bearer token and without, over part A's routes (``PART_A``:
lead scoring, trust score, audit write, health, dashboard; part B's routes have their own run).

The document is completed with what the app's error handlers answer: every refusal, 422 included, is
``{"error", "message", "field"}`` (+ ``fields``), not FastAPI's default validation body. Two runs over every
operation, positive and negative generation: one with an admin's token (Airflow's auth manager issued it),
one with whatever headers were generated (no Authorization). Invariants: no server error, answers conform to
the document, every refusal has the error shape and writes nothing, and a request without a token is answered
401/403 whatever else is wrong with it.

The LLM of lead scoring is the sandbox's (connection llm_default). Rows the accepted requests wrote are
deleted afterwards (audit_log rows stay: they are valid links of the append-only chain).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from execution_plane.services.app import create_app
from tests.security.security_support import assert_refusal_shape

REFUSAL = {
    "type": "object",
    "required": ["error", "message", "field"],
    "properties": {
        "error": {"type": "string", "pattern": "^[a-z][a-z_]*$"},
        "message": {"type": "string", "minLength": 1},
        "field": {"type": ["string", "null"]},
        "fields": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": ["string", "null"]}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": False,
}

PART_A = {"/lead-scores", "/trust-scores", "/audit-events", "/health", "/dashboard"}
TABLES = ("lead_scores", "trust_scores", "audit_events", "audit_log", "outside_calls")


def openapi_document() -> dict[str, Any]:
    doc = copy.deepcopy(create_app().openapi())
    doc["paths"] = {path: item for path, item in doc["paths"].items() if path in PART_A}
    doc["components"]["schemas"]["Refusal"] = REFUSAL
    refusal = {
        "description": "refused",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusal"}}},
    }
    for item in doc["paths"].values():
        for operation in item.values():
            responses = operation["responses"]
            responses.pop("422", None)  # FastAPI's default body; the app answers the refusal shape
            responses["default"] = refusal
    return doc


DOCUMENT = openapi_document()

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


def load_schema() -> Any:
    schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT))
    schema.app = create_app()
    return schema


with_token = load_schema()
without_token = load_schema()


def admin_token() -> str:
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = create_auth_manager()
    manager.init()
    return str(manager.generate_jwt(SimpleAuthManagerUser(username="admin", role="admin")))


@with_token.auth()
class Bearer:
    def get(self, case: Any, ctx: Any) -> str:
        return admin_token()

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


class Rows:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def counts(self) -> dict[str, int]:
        with self.conn.cursor() as cur:
            found = {}
            for table in TABLES:
                cur.execute(f"SELECT count(*) FROM {table}")  # table names are this module's constants
                found[table] = int(cur.fetchone()[0])
            return found

    @contextmanager
    def unchanged_unless_accepted(self) -> Iterator[list[Any]]:
        before = self.counts()
        answer: list[Any] = []
        yield answer
        if answer and answer[0].status_code >= 400:
            assert self.counts() == before, f"refused with {answer[0].status_code} yet wrote rows"


@pytest.fixture(scope="module")
def rows(business_db_url: str, sandbox_server: Any) -> Iterator[Rows]:
    import psycopg2

    conn = psycopg2.connect(business_db_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT now()")
        started = cur.fetchone()[0]
    try:
        yield Rows(conn)
    finally:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM lead_scores WHERE scored_at >= %s", (started,))
            cur.execute("DELETE FROM trust_scores WHERE computed_at >= %s", (started,))
            cur.execute("DELETE FROM audit_events WHERE recorded_at >= %s", (started,))
            cur.execute("DELETE FROM outside_calls WHERE at >= %s AND source = 'lead_scoring'", (started,))
        conn.close()
        from execution_plane.services import db

        db.close_pool()


class Answer:
    def __init__(self, response: Any) -> None:
        self.status_code = response.status_code
        self.headers = {name.lower(): values[0] for name, values in response.headers.items()}
        self.text = response.content.decode("utf-8", "replace")
        self._response = response

    def json(self) -> Any:
        return json.loads(self._response.content)


def run_case(case: Any, rows: Rows, *, authenticated: bool) -> None:
    with rows.unchanged_unless_accepted() as seen:
        response = case.call()
        answer = Answer(response)
        seen.append(answer)
    case.validate_response(
        response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
    )
    assert answer.status_code < 500, answer.text[:500]
    if answer.status_code < 300:
        assert authenticated, f"answered {answer.status_code} without a token: {case.method} {case.path}"
        return
    body = assert_refusal_shape(answer)
    if not authenticated:
        # Before routing and before any body is read (services.auth.Authenticated): never a 404, 405 or 422.
        assert answer.status_code in (401, 403), body


@with_token.parametrize()
@SETTINGS
def test_with_a_token(case: Any, rows: Rows) -> None:
    run_case(case, rows, authenticated=True)


@without_token.parametrize()
@SETTINGS
def test_without_a_token(case: Any, rows: Rows) -> None:
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    run_case(case, rows, authenticated=False)


def test_document_covers_every_route_of_part_a() -> None:
    app_routes = {(m.lower(), r.path) for r in create_app().routes for m in getattr(r, "methods", ())}
    documented = {(m, p) for p, item in DOCUMENT["paths"].items() for m in item}
    assert documented == {(m, p) for m, p in app_routes if p in PART_A}
    assert {p for _, p in documented} == PART_A
