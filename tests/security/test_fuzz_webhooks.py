"""Property-based fuzzing of every webhook route, signed and unsigned, against the real test databases.

Invariants, for every request: never a 5xx (except the documented 503 of an undeployed workflow); every
non-2xx answer is JSON ``{"error", "message", "field"}``; a refused request adds no ``external_events`` row
and starts no DAG run (global counts before/after, plus spies on the two write paths).
"""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from execution_plane.webhooks import workflows
from execution_plane.webhooks.app import MAX_BODY_BYTES, MAX_JSON_DEPTH, OUTSIDE_SOURCES
from execution_plane.webhooks.models import CrmEvent, EsignEvent, OutsideEvent
from include.security.hmac_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from tests.plugins.webhooks.webhook_support import esign_body, outside_body
from tests.security.security_support import (
    FUZZ,
    POST_ROUTES,
    WriteProbe,
    any_text,
    assert_no_server_error,
    assert_refusal_shape,
    dumps,
    json_objects,
    json_values,
    route_secret,
    signed,
    valid_payload,
)

pytestmark = pytest.mark.timeout(300)

CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "",
    ]
) | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)

HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
"""What a header value can carry on the wire (httpx sends ASCII)."""

MODELS: dict[str, Any] = {"/crm/events": CrmEvent, "/esign": EsignEvent, "/events/partner": OutsideEvent}


def crm_body(marker: str, workflow: str = "partner_approval", **overrides: Any) -> dict[str, Any]:
    return {
        "event_id": f"crm_{marker}",
        "workflow": workflow,
        "occurred_at": "2026-11-25T10:00:00Z",
        "payload": valid_payload(workflows.STARTABLE_WORKFLOWS[workflow]),
        **overrides,
    }


def base_body(path: str, marker: str) -> dict[str, Any]:
    if path == "/crm/events":
        return crm_body(marker)
    if path == "/esign":
        return esign_body(marker)
    return outside_body(marker)


def send(
    client: TestClient,
    path: str,
    raw: bytes,
    secret: str | None,
    *,
    content_type: str | None = "application/json",
) -> Any:
    headers: dict[str, str] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if secret is not None:
        headers.update(signed(secret, raw))
    return client.post(path, content=raw, headers=headers)


def check(response: Any) -> dict[str, Any] | None:
    assert_no_server_error(response)
    if 200 <= response.status_code < 300:
        return None
    return assert_refusal_shape(response)


# ------------------------------------------------------------------------------------------ raw bodies
@FUZZ
@given(
    path=st.sampled_from(POST_ROUTES),
    raw=st.binary(max_size=600),
    content_type=CONTENT_TYPES,
    sign_it=st.booleans(),
)
def test_arbitrary_bytes(
    app_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    path: str,
    raw: bytes,
    content_type: str,
    sign_it: bool,
) -> None:
    with writes.watch(raw) as written:
        response = send(
            app_client, path, raw, route_secret(secrets, path) if sign_it else None, content_type=content_type
        )
        written(response)
    body = check(response)
    assert body is not None, "random bytes were accepted"
    if not sign_it and response.status_code != 415:
        # Unsigned: refused by the size/type guards or the signature, never by anything that parsed it.
        assert (response.status_code, body["error"]) == (401, "invalid_signature"), body


@FUZZ
@given(path=st.sampled_from(POST_ROUTES), value=json_values, sign_it=st.booleans(), ascii_only=st.booleans())
def test_arbitrary_json(
    app_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    path: str,
    value: Any,
    sign_it: bool,
    ascii_only: bool,
) -> None:
    raw = dumps(value, ensure_ascii=ascii_only)
    with writes.watch(raw) as written:
        response = send(app_client, path, raw, route_secret(secrets, path) if sign_it else None)
        written(response)
    body = check(response)
    assert body is not None, f"{value!r} was accepted"
    if not sign_it:
        assert (response.status_code, body["field"]) in {(401, TIMESTAMP_HEADER), (413, "body")}, body


# ----------------------------------------------------------------------------------- near-valid bodies
FIELD_NAMES = sorted({name for model in MODELS.values() for name in model.model_fields} | {"padding"})


def has_nul(value: Any, depth: int = 1) -> bool:
    """The ingress's "cannot be stored as sent" contract (400 malformed_json): a NUL character, a lone UTF-16
    surrogate anywhere, or nesting deeper than MAX_JSON_DEPTH."""
    if depth > MAX_JSON_DEPTH:
        return True
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(has_nul(k, depth) or has_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v, depth + 1) for v in value)
    return False


def as_decimals(value: Any) -> Any:
    """JSON numbers as exact decimals: jsonb keeps 1.5e+17 as the numeric 150000000000000000."""
    return json.loads(json.dumps(value), parse_float=Decimal, parse_int=Decimal)


def error_fields(model: Any, data: Any, prefix: tuple[str, ...] = ()) -> set[str] | None:
    """The fields the ingress must name for ``data`` (the model is the oracle); None when it is valid."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return {".".join([*prefix, *map(str, err["loc"])]) for err in exc.errors()}
    return None


def expected_refusal(path: str, data: Any) -> tuple[int, str, set[str] | None] | None:
    """What the ingress must answer a correctly signed JSON body ``data``; None when it must accept it."""
    if not isinstance(data, dict) or has_nul(data):
        return 400, "malformed_json", None
    if (fields := error_fields(MODELS[path], data)) is not None:
        return 422, "invalid_body", fields
    if path != "/crm/events":
        return None
    params = workflows.STARTABLE_WORKFLOWS.get(data["workflow"])
    if params is None:
        return 404, "unknown_workflow", None
    if (fields := error_fields(params, data["payload"], ("payload",))) is not None:
        return 422, "invalid_body", fields
    raise AssertionError("the property must not send a CRM event that would start a run")


def assert_answer(response: Any, expected: tuple[int, str, set[str] | None] | None) -> None:
    answer = check(response)
    if expected is None:
        assert answer is None and response.status_code == 202, (response.status_code, response.text)
        return
    assert answer is not None, (response.status_code, response.text)
    status, error, fields = expected
    assert (response.status_code, answer["error"]) == (status, error), answer
    if fields is not None:
        assert {f["field"] for f in answer["fields"]} == fields, answer
        assert answer["field"] in fields


def near_valid_body(path: str, marker: str) -> dict[str, Any]:
    if path == "/crm/events":
        # An incomplete payload: whatever the change, a CRM body of this property never starts a run.
        return crm_body(marker, payload={"request_id": f"req_{marker}"})
    return base_body(path, marker)


@FUZZ
@given(path=st.sampled_from(POST_ROUTES), data=st.data(), drop=st.booleans(), value=json_values)
def test_one_field_changed(
    app_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    tag: str,
    path: str,
    data: st.DataObject,
    drop: bool,
    value: Any,
) -> None:
    """A valid body with one field dropped, replaced or added: refused naming exactly the fields at fault."""
    marker = f"{tag}_{uuid.uuid4().hex[:8]}"
    body = near_valid_body(path, marker)
    name = data.draw(st.sampled_from(sorted(body) if drop else FIELD_NAMES), label="field")
    if drop:
        del body[name]
    else:
        body[name] = value
    raw = dumps(body)
    with writes.watch(raw) as written:
        response = send(app_client, path, raw, route_secret(secrets, path))
        written(response)
    assert_answer(response, expected_refusal(path, json.loads(raw)))


@FUZZ
@given(payload=json_objects, source=st.sampled_from(sorted(OUTSIDE_SOURCES)))
def test_outside_event_payload_round_trips(
    app_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    inbox_rows: Any,
    tag: str,
    payload: dict[str, Any],
    source: str,
) -> None:
    """Any JSON object as payload of a valid event: stored exactly as sent (202), or 400 for a NUL."""
    marker = f"{tag}_{uuid.uuid4().hex[:8]}"
    raw = dumps(outside_body(marker, payload=payload))
    with writes.watch(raw) as written:
        response = send(app_client, f"/events/{source}", raw, secrets["/events/partner"])
        written(response)
    assert_answer(response, expected_refusal("/events/partner", json.loads(raw)))
    if response.status_code == 202:
        [row] = inbox_rows(marker)
        assert row["event_id"] == f"{source}:evt_{marker}"
        assert as_decimals(row["payload"]["payload"]) == as_decimals(payload)


# --------------------------------------------------------------------------------------- run params (CRM)
@FUZZ
@given(
    workflow=st.sampled_from(sorted(workflows.STARTABLE_WORKFLOWS)),
    data=st.data(),
    value=json_values | st.sampled_from(["", " ", "a..b", "x" * 300, "not-an-email", "ptn 1", -1, 0, 1e308]),
)
def test_invalid_run_params_are_422_naming_the_field(
    app_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    tag: str,
    workflow: str,
    data: st.DataObject,
    value: Any,
) -> None:
    """Each workflow's params model refuses a bad value: 422 ``payload.<field>``, no run, no inbox row."""
    model = workflows.STARTABLE_WORKFLOWS[workflow]
    payload = valid_payload(model)
    name = data.draw(st.sampled_from([*sorted(model.model_fields), "unexpected"]), label="param")
    payload[name] = value
    marker = f"{tag}_{uuid.uuid4().hex[:8]}"
    raw = dumps(crm_body(marker, workflow, payload=payload))
    parsed = json.loads(raw)
    # A value the model accepts would start a real run: not this property's business.
    assume(has_nul(parsed) or error_fields(model, parsed["payload"]) is not None)
    with writes.watch(raw) as written:
        response = send(app_client, "/crm/events", raw, secrets["/crm/events"])
        written(response)
    assert_answer(response, expected_refusal("/crm/events", parsed))


@FUZZ
@given(workflow=any_text.filter(lambda w: w not in workflows.STARTABLE_WORKFLOWS))
def test_unknown_workflow_is_404(
    app_client: TestClient, secrets: dict[str, str], writes: WriteProbe, tag: str, workflow: str
) -> None:
    marker = f"{tag}_{uuid.uuid4().hex[:8]}"
    raw = dumps(crm_body(marker, payload={"request_id": "r1"}) | {"workflow": workflow})
    with writes.watch(raw) as written:
        response = send(app_client, "/crm/events", raw, secrets["/crm/events"])
        written(response)
    expected = expected_refusal("/crm/events", json.loads(raw))
    assert_answer(response, expected)
    if expected is not None and expected[1] == "unknown_workflow":
        assert response.json()["field"] == "workflow"


# ---------------------------------------------------------------------------------- signature headers
@FUZZ
@given(
    path=st.sampled_from(POST_ROUTES),
    timestamp=st.none() | HEADER_TEXT | st.integers(min_value=-(10**13), max_value=10**13).map(str),
    signature=st.none()
    | HEADER_TEXT
    | st.binary(min_size=32, max_size=32).map(lambda b: "sha256=" + b.hex()),
)
def test_forged_signature_headers_are_401(
    app_client: TestClient,
    writes: WriteProbe,
    tag: str,
    path: str,
    timestamp: str | None,
    signature: str | None,
) -> None:
    raw = dumps(base_body(path, f"{tag}_{uuid.uuid4().hex[:8]}"))
    headers = {"Content-Type": "application/json"}
    for name, value in ((TIMESTAMP_HEADER, timestamp), (SIGNATURE_HEADER, signature)):
        if value is not None:
            headers[name] = value
    with writes.watch(raw) as written:
        response = app_client.post(path, content=raw, headers=headers)
        written(response)
    answer = check(response)
    assert answer is not None
    assert response.status_code == 401, answer
    assert (answer["error"], answer["field"]) in {
        ("invalid_signature", TIMESTAMP_HEADER),
        ("invalid_signature", SIGNATURE_HEADER),
    }


@FUZZ
@given(
    path=st.sampled_from(POST_ROUTES), offset=st.integers(min_value=302, max_value=10**9), past=st.booleans()
)
def test_replay_outside_the_window_is_401(
    app_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    tag: str,
    path: str,
    offset: int,
    past: bool,
) -> None:
    """Correctly signed, but at a timestamp more than 300 s away (a captured request replayed later)."""
    raw = dumps(base_body(path, f"{tag}_{uuid.uuid4().hex[:8]}"))
    ts = max(0, int(time.time()) + (-offset if past else offset))
    headers = {"Content-Type": "application/json", **signed(route_secret(secrets, path), raw, timestamp=ts)}
    with writes.watch(raw) as written:
        response = app_client.post(path, content=raw, headers=headers)
        written(response)
    answer = check(response)
    assert answer is not None
    assert (response.status_code, answer["error"], answer["field"]) == (
        401,
        "invalid_signature",
        TIMESTAMP_HEADER,
    )


# ------------------------------------------------------------------------------ sources, methods, paths
@FUZZ
@given(source=st.text(min_size=1, max_size=40), sign_it=st.booleans())
def test_unknown_sources_are_refused(
    app_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    tag: str,
    source: str,
    sign_it: bool,
) -> None:
    assume(source not in OUTSIDE_SOURCES)
    raw = dumps(outside_body(f"{tag}_{uuid.uuid4().hex[:8]}"))
    headers = {"Content-Type": "application/json"}
    if sign_it:
        headers.update(signed(secrets["/events/partner"], raw))
    with writes.watch(raw) as written:
        response = app_client.post(f"/events/{quote(source, safe='')}", content=raw, headers=headers)
        written(response)
    answer = check(response)
    assert answer is not None
    if sign_it:
        assert response.status_code == 404, answer
        assert (answer["error"], answer["field"]) in {("unknown_source", "source"), ("not_found", None)}
    else:
        # The source is judged after the signature: an unsigned request learns nothing about sources.
        assert (response.status_code, answer["error"]) in {(401, "invalid_signature"), (404, "not_found")}


@FUZZ
@given(
    method=st.sampled_from(["GET", "PUT", "PATCH", "DELETE", "OPTIONS", "POST", "TRACE"]),
    path=st.sampled_from([*POST_ROUTES, "/health"])
    | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30).map(lambda p: "/" + p),
    query=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
    raw=st.binary(max_size=64),
)
def test_any_method_any_path(
    app_client: TestClient, writes: WriteProbe, method: str, path: str, query: dict[str, str], raw: bytes
) -> None:
    """Unsigned requests with any method on any path: /health answers GET only, the rest is a JSON refusal."""
    path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    with writes.watch(raw) as written:
        response = app_client.request(
            method, path, params=query, content=raw or None, headers={"Content-Type": "application/json"}
        )
        written(response)
    if method == "GET" and path == "/health":
        assert (response.status_code, response.json()) == (200, {"status": "ok"})
        return
    answer = check(response)
    assert answer is not None, (method, path, response.status_code)
    if method == "POST" and path in POST_ROUTES:
        assert (response.status_code, answer["error"]) in {
            (401, "invalid_signature"),
            (413, "body_too_large"),
        }
    else:
        assert response.status_code in (401, 404, 405), answer


# ------------------------------------------------------------------------------------------------ size
@FUZZ
@given(
    path=st.sampled_from(POST_ROUTES),
    extra=st.integers(min_value=1, max_value=4 * MAX_BODY_BYTES),
    chunked=st.booleans(),
    sign_it=st.booleans(),
)
def test_oversized_bodies_are_413(
    app_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    path: str,
    extra: int,
    chunked: bool,
    sign_it: bool,
) -> None:
    raw = b'{"padding": "' + b"x" * (MAX_BODY_BYTES + extra - 15) + b'"}'
    assert len(raw) > MAX_BODY_BYTES
    headers = {"Content-Type": "application/json"}
    if sign_it:
        headers.update(signed(route_secret(secrets, path), raw))
    content: Any = (raw[i : i + 16384] for i in range(0, len(raw), 16384)) if chunked else raw
    with writes.watch(raw) as written:
        response = app_client.post(path, content=content, headers=headers)
        written(response)
    answer = check(response)
    assert answer is not None
    assert (response.status_code, answer["error"], answer["field"]) == (413, "body_too_large", "body")


def test_harness_sanity_a_signed_valid_event_is_accepted(
    app_client: TestClient, secrets: dict[str, str], writes: WriteProbe, tag: str, inbox_rows: Any
) -> None:
    """The properties above would pass vacuously if signing were broken: one valid event must be stored."""
    raw = dumps(esign_body(tag))
    with writes.watch(raw) as written:
        response = send(app_client, "/esign", raw, secrets["/esign"])
        written(response)
    assert response.status_code == 202, response.text
    assert writes.inserted == [f"esign:evt_{tag}"]
    assert len(inbox_rows(tag)) == 1
