"""Schemathesis against the webhook app's OpenAPI document, signed and unsigned.

The app serves no OpenAPI (``openapi_url=None``: /health is its only unauthenticated route), so the document
is built here from ``create_app().routes`` with ``fastapi.openapi.utils.get_openapi`` (a route added later is
tested automatically) and completed with what the routes read by hand: the JSON body of each route (its
pydantic model; the CRM payload as any of the workflows' params models), the signature headers, and the
documented answers (2xx bodies; every refusal ``{"error", "message", "field"}``).

Two runs over every operation, positive and negative generation: one where an auth hook signs each
request exactly as a sender does (HMAC of the bytes sent, fresh timestamp), one with whatever headers were
generated. Invariants: no 5xx (schemathesis ``not_a_server_error`` + the documented 503s), answers conform
to the document, every refusal is the JSON error shape, and a refused request writes nothing (WriteProbe).

``runs.check_startable`` (is the workflow deployed, unpaused, are its params what its DAG accepts) is replaced
by a recorder, as the project's DAGs are not deployed in the test database, and a stored start request is
withdrawn at once (``install_spies``): starting real runs of them in the shared test database is not this
test's business (tests/plugins/webhooks covers the real start; the hypothesis properties in
test_fuzz_webhooks.py cover refusals through the real one).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.openapi.utils import get_openapi
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from execution_plane.webhooks import runs, workflows
from execution_plane.webhooks.app import OUTSIDE_SOURCES, create_app
from execution_plane.webhooks.models import CrmEvent, EsignEvent, OutsideEvent
from include.security.hmac_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.security.security_support import (
    WriteProbe,
    assert_no_server_error,
    assert_refusal_shape,
    route_secret,
)

BODY_MODELS: dict[str, Any] = {
    "/crm/events": CrmEvent,
    "/esign": EsignEvent,
    "/events/{source}": OutsideEvent,
}

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

ACCEPTED = {
    "/crm/events": {
        "type": "object",
        "required": ["status", "dag_id", "run_id"],
        "properties": {"status": {"enum": ["accepted", "duplicate"]}},
    },
    "/esign": {
        "type": "object",
        "required": ["status", "event_id", "ended_waits"],
        "properties": {
            "status": {"enum": ["accepted", "duplicate"]},
            "ended_waits": {"type": "integer", "minimum": 0},
        },
    },
    "/events/{source}": {
        "type": "object",
        "required": ["status", "event_id", "ended_waits"],
        "properties": {
            "status": {"enum": ["accepted", "duplicate"]},
            "ended_waits": {"type": "integer", "minimum": 0},
        },
    },
}


def _model_schema(model: Any, components: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(model.model_json_schema(ref_template="#/components/schemas/{model}"))
    components.update(schema.pop("$defs", {}))
    return schema


def openapi_document() -> dict[str, Any]:
    app = create_app()
    doc = get_openapi(title=app.title, version="test", openapi_version="3.1.0", routes=app.routes)
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components["Refusal"] = REFUSAL
    refusal = {
        "description": "refused",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusal"}}},
    }
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if (method, path) == ("get", "/health"):
                operation["responses"] = {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["status"],
                                    "properties": {"status": {"const": "ok"}},
                                    "additionalProperties": False,
                                }
                            }
                        },
                    },
                    "default": refusal,
                }
                continue
            assert method == "post" and path in BODY_MODELS, f"new route {method.upper()} {path}: describe it"
            body = _model_schema(BODY_MODELS[path], components)
            if path == "/crm/events":
                # One variant per startable workflow (its params model as payload), plus the generic body.
                variants = []
                for dag_id, model in sorted(workflows.STARTABLE_WORKFLOWS.items()):
                    variant = copy.deepcopy(body)
                    variant["properties"]["workflow"] = {"const": dag_id}
                    variant["properties"]["payload"] = _model_schema(model, components)
                    variants.append(variant)
                body = {"anyOf": [*variants, body]}
            parameters = [p for p in operation.get("parameters", []) if p["in"] != "header"]
            for p in parameters:
                if p["name"] == "source":
                    p["schema"] = {
                        "anyOf": [{"enum": sorted(OUTSIDE_SOURCES)}, {"type": "string", "minLength": 1}]
                    }
            parameters += [
                {
                    "name": TIMESTAMP_HEADER,
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
                },
                {
                    "name": SIGNATURE_HEADER,
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
                },
            ]
            operation["parameters"] = parameters
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
            success = "202"
            operation["responses"] = {
                success: {
                    "description": "accepted",
                    "content": {"application/json": {"schema": ACCEPTED[path]}},
                },
                **(
                    {
                        "200": {
                            "description": "duplicate",
                            "content": {"application/json": {"schema": ACCEPTED[path]}},
                        }
                    }
                    if path == "/crm/events"
                    else {}
                ),
                "default": refusal,
            }
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


def _secrets() -> dict[str, str]:
    from airflow.models import Connection

    return {
        route: str(Connection.get_connection_from_secrets(conn_id).password)  # noqa: AIR311
        for route, conn_id in (
            ("/crm/events", "webhook_crm"),
            ("/esign", "webhook_esign"),
            ("/events/partner", "webhook_events"),
        )
    }


def body_bytes(case: Any) -> bytes:
    """The exact bytes the transport will send for ``case.body`` (bytes are sent as they are)."""
    body = case.body
    if isinstance(body, bytes):
        return body
    if body is None or type(body).__name__ == "NotSet":
        return b""
    return json.dumps(body).encode("utf-8", "surrogatepass")


signed_schema = load_schema()
unsigned_schema = load_schema()


@signed_schema.auth()
class HmacSigner:
    """The sender's signing: HMAC-SHA256 of ``"<ts>." + raw body`` with the route's secret, fresh ts."""

    def get(self, case: Any, ctx: Any) -> dict[str, str]:
        return _secrets()

    def set(self, case: Any, data: dict[str, str], ctx: Any) -> None:
        path = case.formatted_path
        if not (path in data or path.startswith("/events/")):
            return  # /health (any method): no secret to sign with
        raw = body_bytes(case)
        case.body = raw  # sent as these bytes, so the signature covers exactly what is sent
        ts = int(time.time())
        case.headers = {
            **(case.headers or {}),
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign(route_secret(data, path), ts, raw),
        }


class Answer:
    """A schemathesis response seen through the interface the shared assertions use."""

    def __init__(self, response: Any) -> None:
        self.status_code = response.status_code
        self.headers = {name.lower(): values[0] for name, values in response.headers.items()}
        self.text = response.content.decode("utf-8", "replace")
        self._response = response

    def json(self) -> Any:
        return json.loads(self._response.content)


@pytest.fixture
def recorded_starts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    started: list[str] = []

    def record(dag_id: str, conf: dict[str, Any]) -> None:
        started.append(dag_id)

    monkeypatch.setattr(runs, "check_startable", record)
    yield started


def run_case(case: Any, writes: WriteProbe, started: list[str], *, signed: bool) -> None:
    started.clear()
    with writes.watch() as written:
        response = case.call()
        answer = Answer(response)
        written(answer, raw=body_bytes(case))
    case.validate_response(
        response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
    )
    assert_no_server_error(answer)
    if 200 <= answer.status_code < 300:
        public = (case.method.upper(), case.formatted_path) == ("GET", "/health")
        assert signed or public, f"an unsigned request was accepted: {case.method} {case.formatted_path}"
        if case.formatted_path == "/crm/events":
            # Accepted only after the workflow was checked (deployed, unpaused, params its DAG accepts).
            assert started == [answer.json()["dag_id"]], started
        return
    body = assert_refusal_shape(answer)
    # Refused before the workflow check, or by it (the recorder refuses nothing): nothing got that far.
    assert started == [], f"refused ({answer.status_code} {body['error']}) after the workflow check {started}"
    if not signed and case.operation.method.upper() == "POST":
        assert answer.status_code in (401, 404, 405, 413, 415), body


@signed_schema.parametrize()
@SETTINGS
def test_signed_requests(case: Any, writes: WriteProbe, recorded_starts: list[str]) -> None:
    run_case(case, writes, recorded_starts, signed=True)


@unsigned_schema.parametrize()
@SETTINGS
def test_unsigned_requests(case: Any, writes: WriteProbe, recorded_starts: list[str]) -> None:
    run_case(case, writes, recorded_starts, signed=False)


def test_document_covers_every_route() -> None:
    app_routes = {(m.lower(), r.path) for r in create_app().routes for m in getattr(r, "methods", ())}
    documented = {(m, p) for p, item in DOCUMENT["paths"].items() for m in item}
    assert documented == app_routes
