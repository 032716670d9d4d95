"""Schemathesis over part B's routes of the services app (message classification, dialect detection,
knowledge ingest and search), from the app's own OpenAPI document, with an admin's token and without one.

As for part A's routes (test_schemathesis_services.py): the document is completed with the app's refusal
shape; two runs over every operation, positive and negative generation. Invariants: no server error,
answers conform to the document, every refusal has the error shape and writes nothing (the business
database's answer tables and the knowledge store's documents and chunks), and a request without a token is
401/403 whatever else is wrong with it. A generated request may be accepted: it writes its one row, and
the rows written are deleted afterwards (the knowledge store's by the documents' ingest time).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from execution_plane.services.app import create_app
from tests.plugins.services.test_retrieval_route import knowledge_url
from tests.security.security_support import assert_refusal_shape
from tests.security.test_schemathesis_services import REFUSAL, admin_token

PART_B = {"/message-classifications", "/dialect-detections", "/knowledge/documents", "/knowledge/search"}
BUSINESS_TABLES = ("message_classifications", "dialect_detections")
KNOWLEDGE_TABLES = ("knowledge_documents", "knowledge_chunks")


def openapi_document() -> dict[str, Any]:
    doc = copy.deepcopy(create_app().openapi())
    doc["paths"] = {path: item for path, item in doc["paths"].items() if path in PART_B}
    doc["components"]["schemas"]["Refusal"] = REFUSAL
    refusal = {
        "description": "refused",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusal"}}},
    }
    for item in doc["paths"].values():
        for operation in item.values():
            operation["responses"].pop("422", None)
            operation["responses"]["default"] = refusal
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


@with_token.auth()
class Bearer:
    def get(self, case: Any, ctx: Any) -> str:
        return admin_token()

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def _count(conn: Any, tables: tuple[str, ...]) -> dict[str, int]:
    found = {}
    with conn.cursor() as cur:
        for table in tables:
            cur.execute(f"SELECT count(*) FROM {table}")  # table names are this module's constants
            found[table] = int(cur.fetchone()[0])
    return found


class Rows:
    def __init__(self, business: Any, knowledge: Any) -> None:
        self.business = business
        self.knowledge = knowledge

    def counts(self) -> dict[str, int]:
        return {**_count(self.business, BUSINESS_TABLES), **_count(self.knowledge, KNOWLEDGE_TABLES)}

    @contextmanager
    def unchanged_unless_accepted(self) -> Iterator[list[Any]]:
        before = self.counts()
        answer: list[Any] = []
        yield answer
        if answer and answer[0].status_code >= 400:
            assert self.counts() == before, f"refused with {answer[0].status_code} yet wrote rows"


@pytest.fixture(scope="module")
def rows(business_db_url: str, sandbox_server: Any) -> Iterator[Rows]:
    business = psycopg2.connect(business_db_url)
    business.autocommit = True
    knowledge = psycopg2.connect(knowledge_url())
    knowledge.autocommit = True
    with business.cursor() as cur:
        cur.execute("SELECT now()")
        started = cur.fetchone()[0]
    try:
        yield Rows(business, knowledge)
    finally:
        with business.cursor() as cur:
            cur.execute("DELETE FROM message_classifications WHERE classified_at >= %s", (started,))
            cur.execute("DELETE FROM dialect_detections WHERE detected_at >= %s", (started,))
            cur.execute(
                "DELETE FROM outside_calls WHERE at >= %s AND source = 'knowledge_retrieval'", (started,)
            )
        with knowledge.cursor() as cur:
            cur.execute("DELETE FROM knowledge_documents WHERE ingested_at >= %s", (started,))
        business.close()
        knowledge.close()
        from execution_plane.services import db, knowledge_store

        db.close_pool()
        knowledge_store.close_pool()


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


def test_document_covers_every_route_of_part_b() -> None:
    app_routes = {(m.lower(), r.path) for r in create_app().routes for m in getattr(r, "methods", ())}
    documented = {(m, p) for p, item in DOCUMENT["paths"].items() for m in item}
    assert documented == {(m, p) for m, p in app_routes if p in PART_B}
    assert {p for _, p in documented} == PART_B
