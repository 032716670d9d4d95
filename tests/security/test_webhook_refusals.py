"""Explicit refusals of the webhook ingress: each with its status, error code, the field at fault in
``field`` and in the message, and nothing written (global counts + spies, see ``WriteProbe``).

The basic guards also have tests in tests/plugins/webhooks/test_webhook_request_guards.py; here every case
additionally checks the write probe and the message, and the last section pins the bugs found by fuzzing.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from execution_plane.webhooks import runs, workflows
from execution_plane.webhooks.app import MAX_BODY_BYTES, create_app
from include.security.hmac_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.plugins.webhooks.webhook_support import esign_body, outside_body
from tests.security.security_support import (
    POST_ROUTES,
    WriteProbe,
    assert_no_server_error,
    assert_refusal_shape,
    bad_values,
    dumps,
    route_secret,
    signed,
    valid_payload,
)


def crm_body(tag: str, workflow: str = "partner_approval", **overrides: Any) -> dict[str, Any]:
    return {
        "event_id": f"crm_{tag}",
        "workflow": workflow,
        "occurred_at": "2026-11-25T10:00:00Z",
        "payload": valid_payload(workflows.STARTABLE_WORKFLOWS[workflow])
        if workflow in workflows.STARTABLE_WORKFLOWS
        else {"request_id": "r1"},
        **overrides,
    }


BODIES = {"/crm/events": crm_body, "/esign": esign_body, "/events/partner": outside_body}


def deliver(
    client: TestClient,
    writes: WriteProbe,
    path: str,
    raw: bytes,
    headers: dict[str, str],
    *,
    status: int,
    error: str,
    field: str | None,
    mentions: tuple[str, ...] = (),
) -> dict[str, Any]:
    """POST and check: the refusal's status/error/field, the message, and that nothing was written."""
    with writes.watch(raw) as written:
        response = client.post(path, content=raw, headers=headers)
        written(response)
    assert_no_server_error(response)
    answer = assert_refusal_shape(response)
    assert (response.status_code, answer["error"], answer["field"]) == (status, error, field), answer
    for word in mentions:
        assert word.lower() in answer["message"].lower(), answer
    return answer


# ------------------------------------------------------------------------------------ signature/replay
@pytest.mark.parametrize("path", POST_ROUTES)
@pytest.mark.parametrize(
    ("case", "status", "field", "mentions"),
    [
        ("no-signature", 401, SIGNATURE_HEADER, ("missing",)),
        ("no-timestamp", 401, TIMESTAMP_HEADER, ("missing",)),
        ("no-headers", 401, TIMESTAMP_HEADER, ("missing",)),
        ("wrong-secret", 401, SIGNATURE_HEADER, ("mismatch",)),
        ("signed-other-body", 401, SIGNATURE_HEADER, ("mismatch",)),
        ("uppercase-scheme", 401, SIGNATURE_HEADER, ("malformed",)),
        ("replay-6-minutes-old", 401, TIMESTAMP_HEADER, ("window",)),
        ("replay-1-day-old", 401, TIMESTAMP_HEADER, ("window",)),
        ("signed-in-the-future", 401, TIMESTAMP_HEADER, ("window",)),
        ("timestamp-in-ms", 401, TIMESTAMP_HEADER, ("unix seconds",)),
        ("timestamp-not-integer", 401, TIMESTAMP_HEADER, ("integer",)),
    ],
)
def test_signature_refusals(
    app_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    tag: str,
    path: str,
    case: str,
    status: int,
    field: str,
    mentions: tuple[str, ...],
) -> None:
    raw = dumps(BODIES[path](tag))
    secret = route_secret(secrets, path)
    now = int(time.time())
    ts = {
        "replay-6-minutes-old": now - 360,
        "replay-1-day-old": now - 86_400,
        "signed-in-the-future": now + 302,
        "timestamp-in-ms": now * 1000,
    }.get(case, now)
    headers = {"Content-Type": "application/json", **signed(secret, raw, timestamp=ts)}
    if case == "no-signature":
        del headers[SIGNATURE_HEADER]
    elif case == "no-timestamp":
        del headers[TIMESTAMP_HEADER]
    elif case == "no-headers":
        del headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER]
    elif case == "wrong-secret":
        headers[SIGNATURE_HEADER] = sign(secret + "x", ts, raw)
    elif case == "signed-other-body":
        headers[SIGNATURE_HEADER] = sign(secret, ts, raw.replace(b"evt_", b"evX_").replace(b"crm_", b"crX_"))
    elif case == "uppercase-scheme":
        headers[SIGNATURE_HEADER] = headers[SIGNATURE_HEADER].replace("sha256=", "SHA256=")
    elif case == "timestamp-not-integer":
        headers[TIMESTAMP_HEADER] = f"{now}.5"
    deliver(
        app_client,
        writes,
        path,
        raw,
        headers,
        status=status,
        error="invalid_signature",
        field=field,
        mentions=mentions,
    )


@pytest.mark.parametrize("path", POST_ROUTES)
def test_a_captured_request_cannot_be_replayed_later(
    app_client: TestClient, secrets: dict[str, str], writes: WriteProbe, tag: str, path: str
) -> None:
    """The exact bytes and headers of a request signed 301+ s ago (sent then or not) are refused now."""
    raw = dumps(BODIES[path](tag))
    captured = {
        "Content-Type": "application/json",
        **signed(route_secret(secrets, path), raw, timestamp=int(time.time()) - 302),
    }
    deliver(
        app_client,
        writes,
        path,
        raw,
        captured,
        status=401,
        error="invalid_signature",
        field=TIMESTAMP_HEADER,
        mentions=("window",),
    )


# ----------------------------------------------------------------------------------- size/content type
@pytest.mark.parametrize("path", POST_ROUTES)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("signed_request", [True, False], ids=["signed", "unsigned"])
def test_oversized_body_is_413(
    app_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    tag: str,
    path: str,
    chunked: bool,
    signed_request: bool,
) -> None:
    raw = dumps({**BODIES[path](tag), "padding": "x" * MAX_BODY_BYTES})
    headers = {"Content-Type": "application/json"}
    if signed_request:
        headers.update(signed(route_secret(secrets, path), raw))
    with writes.watch(raw) as written:
        content: Any = (raw[i : i + 8192] for i in range(0, len(raw), 8192)) if chunked else raw
        response = app_client.post(path, content=content, headers=headers)
        written(response)
    answer = assert_refusal_shape(response)
    assert (response.status_code, answer["error"], answer["field"]) == (413, "body_too_large", "body")
    assert str(MAX_BODY_BYTES) in answer["message"]


@pytest.mark.parametrize("path", POST_ROUTES)
@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=b",
        "application/json-patch+json",
        "application/xml",
        "text/json",
    ],
)
def test_wrong_content_type_is_415(
    app_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    tag: str,
    path: str,
    content_type: str | None,
) -> None:
    raw = dumps(BODIES[path](tag))
    headers = signed(route_secret(secrets, path), raw)
    if content_type is not None:
        headers["Content-Type"] = content_type
    deliver(
        app_client,
        writes,
        path,
        raw,
        headers,
        status=415,
        error="unsupported_media_type",
        field="Content-Type",
        mentions=("application/json",),
    )


def asgi_post(path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, dict[str, Any]]:
    """One request straight through the ASGI interface: headers a client library would not send."""
    app = create_app()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []
    chunks = [body]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": chunks.pop() if chunks else b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(payload)


@pytest.mark.parametrize(
    ("declared", "status", "error", "field"),
    [
        (b"abc", 400, "bad_request", "Content-Length"),
        (b"-1", 400, "bad_request", "Content-Length"),
        (b"99999999999999999999999", 413, "body_too_large", "body"),
        (str(MAX_BODY_BYTES + 1).encode(), 413, "body_too_large", "body"),
    ],
)
def test_bad_content_length_header(
    writes: WriteProbe, tag: str, declared: bytes, status: int, error: str, field: str
) -> None:
    raw = dumps(esign_body(tag))
    headers = [(b"content-type", b"application/json"), (b"content-length", declared)]
    with writes.watch(raw) as written:
        got_status, answer = asgi_post("/esign", headers, raw)
        written(type("R", (), {"status_code": got_status})())
    assert (got_status, answer["error"], answer["field"]) == (status, error, field), answer


# ------------------------------------------------------------------------------- workflow, source, body
@pytest.mark.parametrize(
    "workflow",
    [
        "health_check",
        "saga_compensation",
        "saga_reconciler",
        "ep_webhook_test_startable",
        "partner-approval",
        "PARTNER_APPROVAL",
        "partner_approval ",
        "../partner_approval",
        "x" * 250,
    ],
)
def test_unknown_workflow_is_404(
    app_client: TestClient, secrets: dict[str, str], writes: WriteProbe, tag: str, workflow: str
) -> None:
    raw = dumps(crm_body(tag, workflow=workflow))
    answer = deliver(
        app_client,
        writes,
        "/crm/events",
        raw,
        {"Content-Type": "application/json", **signed(secrets["/crm/events"], raw)},
        status=404,
        error="unknown_workflow",
        field="workflow",
        mentions=("workflow",),
    )
    assert repr(workflow) in answer["message"]


@pytest.mark.parametrize(
    "source", ["crm", "esign", "Partner", "partners", "regulator_x", "a" * 33, "0partner"]
)
def test_unknown_source_is_404_after_the_signature(
    app_client: TestClient, secrets: dict[str, str], writes: WriteProbe, tag: str, source: str
) -> None:
    raw = dumps(outside_body(tag))
    deliver(
        app_client,
        writes,
        f"/events/{source}",
        raw,
        {"Content-Type": "application/json", **signed(secrets["/events/partner"], raw)},
        status=404,
        error="unknown_source",
        field="source",
        mentions=("source",),
    )
    # Unsigned, the same request learns nothing about which sources exist.
    deliver(
        app_client,
        writes,
        f"/events/{source}",
        raw,
        {"Content-Type": "application/json"},
        status=401,
        error="invalid_signature",
        field=TIMESTAMP_HEADER,
    )


# Bad values per param of each startable workflow, derived from its params model's JSON schema (so a param
# added to a model is covered without editing this file); the CRM route validates the payload with that
# model before anything is started.
def _bad_params() -> list[Any]:
    cases = []
    for workflow, model in sorted(workflows.STARTABLE_WORKFLOWS.items()):
        schema = model.model_json_schema()
        for name, prop in schema["properties"].items():
            for label, value in bad_values(prop):
                cases.append(pytest.param(workflow, name, value, id=f"{workflow}-{name}-{label}"))
        for name in schema.get("required", []):
            cases.append(pytest.param(workflow, name, MISSING, id=f"{workflow}-{name}-missing"))
        cases.append(pytest.param(workflow, "unexpected", True, id=f"{workflow}-unknown-param"))
    return cases


MISSING = object()


@pytest.mark.parametrize("workflow", sorted(workflows.STARTABLE_WORKFLOWS))
def test_valid_payload_helper_matches_the_model(workflow: str) -> None:
    """The base payload of the cases below is valid, so each case has exactly one fault."""
    workflows.STARTABLE_WORKFLOWS[workflow].model_validate(
        valid_payload(workflows.STARTABLE_WORKFLOWS[workflow])
    )


@pytest.mark.parametrize(("workflow", "name", "value"), _bad_params())
def test_invalid_run_params_are_422_naming_the_param(
    app_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    tag: str,
    workflow: str,
    name: str,
    value: Any,
) -> None:
    payload = valid_payload(workflows.STARTABLE_WORKFLOWS[workflow])
    if value is MISSING:
        del payload[name]
    else:
        payload[name] = value
    raw = dumps(crm_body(tag, workflow=workflow, payload=payload))
    answer = deliver(
        app_client,
        writes,
        "/crm/events",
        raw,
        {"Content-Type": "application/json", **signed(secrets["/crm/events"], raw)},
        status=422,
        error="invalid_body",
        field=f"payload.{name}",
    )
    assert answer["message"].startswith(f"payload.{name}: "), answer
    assert [f["field"] for f in answer["fields"]] == [f"payload.{name}"], answer


# ------------------------------------------------------------------------------- bugs found by fuzzing
def signed_post(client: TestClient, secrets: dict[str, str], path: str, raw: bytes) -> Any:
    return client.post(
        path,
        content=raw,
        headers={"Content-Type": "application/json", **signed(route_secret(secrets, path), raw)},
    )


@pytest.fixture
def lenient_client() -> TestClient:
    """The app answering 500s as a client sees them (instead of raising into the test)."""
    return TestClient(create_app(), raise_server_exceptions=False)


@pytest.mark.parametrize(
    "payload",
    [{"note": "\ud800"}, {"note": "ok \udfff"}, {"\ud83d": 1}, {"nested": [{"k": "\udbff\u0041"}]}],
    ids=["high", "low", "key", "nested"],
)
def test_lone_surrogate_in_payload_is_refused_not_500(
    lenient_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    inbox_rows: Any,
    tag: str,
    payload: dict[str, Any],
) -> None:
    """Bug: ``"\\ud800"`` is valid JSON for json.loads but not for Postgres jsonb.

    The ingress accepts it, then the INSERT fails (psycopg2 InvalidTextRepresentation, "Unicode low
    surrogate must follow a high surrogate") -> 500 internal_error, or, for some positions, the row is
    stored with the text changed. Expected: refused like a NUL character (400 malformed_json), nothing
    stored.
    """
    raw = dumps(outside_body(tag, payload=payload))
    assert b"\\ud" in raw or b"\\udb" in raw
    with writes.watch(raw) as written:
        response = signed_post(lenient_client, secrets, "/events/partner", raw)
        written(response)
    assert response.status_code == 400, (response.status_code, response.text, inbox_rows(tag))
    answer = assert_refusal_shape(response)
    assert (answer["error"], answer["field"]) == ("malformed_json", "body")
    assert inbox_rows(tag) == []


def test_lone_surrogate_in_crm_params_starts_no_run(
    lenient_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    tag: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bug, CRM side: the payload passes the params model, the run is started, then recording the event
    in the inbox fails (jsonb) -> 500 with the run already started; every redelivery is a 500 again.
    Expected: refused like any body that cannot be stored as sent (400 malformed_json), before anything else.

    ``check_startable`` is stubbed (the real DAG is not deployed/paused in the test database); the stub
    records whether the ingress got as far as accepting a start for a body it cannot store.
    """
    started: list[str] = []

    def fake_check_startable(dag_id: str, conf: dict[str, Any]) -> None:
        started.append(dag_id)

    monkeypatch.setattr(runs, "check_startable", fake_check_startable)
    # ``str`` params refuse lone surrogates (pydantic), free-form ``terms`` (dict[str, Any]) does not.
    model = workflows.STARTABLE_WORKFLOWS["signature_commitment"]
    payload = {**valid_payload(model), "terms": {"clause": "net 30 \ud800"}}
    raw = dumps(crm_body(tag, workflow="signature_commitment", payload=payload))
    with writes.watch(raw) as written:
        response = signed_post(lenient_client, secrets, "/crm/events", raw)
        written(response)
    assert response.status_code == 400, (response.status_code, response.text, started)
    answer = assert_refusal_shape(response)
    assert (answer["error"], answer["field"]) == ("malformed_json", "body"), answer
    assert "surrogate" in answer["message"], answer
    assert started == []


def test_surrogate_in_a_refused_field_name_still_answers_json(
    lenient_client: TestClient, secrets: dict[str, str], writes: WriteProbe, tag: str
) -> None:
    """Bug: the 422 names the unknown field ``"\\udc00"``; rendering that answer raises UnicodeEncodeError
    (starlette's JSONResponse encodes with ``ensure_ascii=False``) -> a plain-text 500 instead of JSON.
    The ingress now refuses any document it could not store as sent, keys included, before validating it."""
    raw = dumps({**esign_body(tag), "\udc00": 1})
    with writes.watch(raw) as written:
        response = signed_post(lenient_client, secrets, "/esign", raw)
        written(response)
    # The ingress refuses a document it cannot store as sent (a surrogate in a key too) before validating it.
    assert response.status_code == 400, (response.status_code, response.text)
    answer = assert_refusal_shape(response)
    assert (answer["error"], answer["field"]) == ("malformed_json", "body"), answer
    assert "surrogate" in answer["message"], answer


@pytest.mark.parametrize("depth", [260, 600, 900])
@pytest.mark.parametrize("path", ["/events/partner", "/crm/events"])
def test_deeply_nested_payload_is_refused_not_500(
    lenient_client: TestClient, secrets: dict[str, str], writes: WriteProbe, tag: str, depth: int, path: str
) -> None:
    """Bug: a payload nested ~260+ levels (well under 64 KiB) passes json.loads and pydantic, then
    ``model_dump`` raises "Maximum serialization depth exceeded" (app.py ``_store`` / ``crm_event``)
    -> 500. Expected: a 4xx naming the body or payload."""
    nested = ('{"a":' * depth + "1" + "}" * depth).encode()
    if path == "/crm/events":
        payload = {
            **valid_payload(workflows.STARTABLE_WORKFLOWS["signature_commitment"]),
            "terms": "__NESTED__",
        }
        body = crm_body(tag, workflow="signature_commitment", payload=payload)
    else:
        body = outside_body(tag, payload="__NESTED__")
    raw = dumps(body).replace(b'"__NESTED__"', nested)
    assert len(raw) < MAX_BODY_BYTES
    with writes.watch(raw) as written:
        response = signed_post(lenient_client, secrets, path, raw)
        written(response)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    answer = assert_refusal_shape(response)
    assert answer["field"] in {"body", "payload", "payload.terms"}


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1E999"])
def test_number_overflowing_to_infinity_is_refused(
    app_client: TestClient,
    secrets: dict[str, str],
    writes: WriteProbe,
    inbox_rows: Any,
    tag: str,
    number: bytes,
) -> None:
    """Bug: ``NaN``/``Infinity`` are refused (400), but ``1e400`` parses to ``inf`` and is stored as
    ``null`` (pydantic's JSON dump): accepted with the sender's value silently changed."""
    raw = dumps(outside_body(tag, payload={"amount": "__N__"})).replace(b'"__N__"', number)
    with writes.watch(raw) as written:
        response = signed_post(app_client, secrets, "/events/partner", raw)
        written(response)
    assert response.status_code == 400, (response.status_code, inbox_rows(tag))
    answer = assert_refusal_shape(response)
    assert (answer["error"], answer["field"]) == ("malformed_json", "body")


def test_probe_sees_a_stored_row() -> None:
    """The write probe is not blind: an accepted event moves the counts and fires the insert spy."""
    import psycopg2

    from tests.conftest import STATE
    from tests.security.security_support import install_spies

    conn = psycopg2.connect(str(STATE["business_db_url"]))
    conn.autocommit = True
    marker = uuid.uuid4().hex
    mp = pytest.MonkeyPatch()
    try:
        probe = WriteProbe(conn)
        install_spies(probe, mp)
        before = probe.snapshot()
        from execution_plane.webhooks import db

        assert db.insert_external_event(f"partner:{marker}", "partner", "t", "k", {"x": 1})
        after = probe.snapshot()
        assert probe.inserted == [f"partner:{marker}"]
        assert after.events >= before.events + 1
        assert probe._attributable(before, json.dumps({"event_id": marker}).encode()) == [
            f"external_events partner:{marker}"
        ]
    finally:
        mp.undo()
        with conn.cursor() as cur:
            cur.execute("DELETE FROM external_events WHERE event_id = %s", (f"partner:{marker}",))
        conn.close()
