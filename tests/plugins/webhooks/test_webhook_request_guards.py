"""What every route refuses before looking at the event: bad signatures, big or non-JSON bodies.

Each refusal must answer JSON naming the culprit and write nothing: no inbox row, no DAG run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from execution_plane.webhooks.app import MAX_BODY_BYTES
from include.security.hmac_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.plugins.webhooks.webhook_support import Post, crm_body, esign_body, outside_body

pytestmark = pytest.mark.usefixtures("startable")

Rows = Callable[[str], list[dict[str, Any]]]

BODIES: dict[str, Callable[[str], dict[str, Any]]] = {
    "/crm/events": crm_body,
    "/esign": esign_body,
    "/events/partner": outside_body,
}


@pytest.fixture(params=sorted(BODIES))
def route(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def nothing_written(tag: str, inbox_rows: Rows, dag_runs: Rows) -> Iterator[None]:
    """Asserts, after the test, that no inbox row and no run carries the test's tag."""
    assert inbox_rows(tag) == []
    yield
    assert inbox_rows(tag) == []
    assert dag_runs(f"crm__crm_{tag}") == []


def assert_error(response: Any, status: int, error: str, field: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    answer: dict[str, Any] = response.json()
    assert (answer["error"], answer["field"]) == (error, field)
    assert isinstance(answer["message"], str)
    assert answer["message"]
    return answer


@pytest.mark.usefixtures("nothing_written")
class TestSignature:
    def test_missing_timestamp_is_401(self, post: Post, route: str, tag: str) -> None:
        response = post(route, BODIES[route](tag), drop=(TIMESTAMP_HEADER,))
        assert_error(response, 401, "invalid_signature", TIMESTAMP_HEADER)

    def test_missing_signature_is_401(self, post: Post, route: str, tag: str) -> None:
        response = post(route, BODIES[route](tag), drop=(SIGNATURE_HEADER,))
        assert_error(response, 401, "invalid_signature", SIGNATURE_HEADER)

    def test_wrong_secret_is_401(self, post: Post, route: str, tag: str) -> None:
        response = post(route, BODIES[route](tag), secret="not-the-secret")
        assert_error(response, 401, "invalid_signature", SIGNATURE_HEADER)

    def test_another_routes_secret_is_401(
        self, post: Post, route: str, tag: str, secrets: dict[str, str]
    ) -> None:
        other = next(secret for name, secret in secrets.items() if name != route)
        response = post(route, BODIES[route](tag), secret=other)
        assert_error(response, 401, "invalid_signature", SIGNATURE_HEADER)

    def test_tampered_body_is_401(self, post: Post, route: str, tag: str, secrets: dict[str, str]) -> None:
        ts = int(time.time())
        signed = json.dumps(BODIES[route](tag)).encode()
        sent = signed.replace(b"evt_", b"evX_").replace(b"crm_", b"crX_")
        headers = {SIGNATURE_HEADER: sign(secrets[route], ts, signed)}
        response = post(route, sent, timestamp=ts, headers=headers)
        assert_error(response, 401, "invalid_signature", SIGNATURE_HEADER)

    def test_malformed_signature_is_401(self, post: Post, route: str, tag: str) -> None:
        response = post(route, BODIES[route](tag), headers={SIGNATURE_HEADER: "md5=abc"})
        assert_error(response, 401, "invalid_signature", SIGNATURE_HEADER)

    @pytest.mark.parametrize(
        # 302, not 301: whole-second timestamps can land 300.x s from the server's clock.
        "offset_s",
        [-302, -3600, 302, 3600],
        ids=["expired", "old", "future", "far-future"],
    )
    def test_timestamp_outside_window_is_401(self, post: Post, route: str, tag: str, offset_s: int) -> None:
        response = post(route, BODIES[route](tag), timestamp=int(time.time()) + offset_s)
        answer = assert_error(response, 401, "invalid_signature", TIMESTAMP_HEADER)
        assert "window" in answer["message"]

    def test_non_numeric_timestamp_is_401(self, post: Post, route: str, tag: str) -> None:
        response = post(route, BODIES[route](tag), headers={TIMESTAMP_HEADER: "2026-11-25T10:00:00Z"})
        assert_error(response, 401, "invalid_signature", TIMESTAMP_HEADER)


@pytest.mark.usefixtures("nothing_written")
class TestBody:
    def test_oversized_body_is_413(self, post: Post, route: str, tag: str) -> None:
        body = BODIES[route](tag)
        body["padding"] = "x" * MAX_BODY_BYTES
        response = post(route, body)
        assert_error(response, 413, "body_too_large", "body")

    def test_oversized_chunked_body_is_413(
        self, app_client: TestClient, route: str, tag: str, secrets: dict[str, str]
    ) -> None:
        # No Content-Length: the limit must hold on the bytes actually read.
        raw = json.dumps({**BODIES[route](tag), "padding": "x" * MAX_BODY_BYTES}).encode()
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign(secrets[route], ts, raw),
        }
        chunks = (raw[i : i + 8192] for i in range(0, len(raw), 8192))
        response = app_client.post(route, content=chunks, headers=headers)
        assert "content-length" not in {name.lower() for name in response.request.headers}
        assert_error(response, 413, "body_too_large", "body")

    def test_body_at_the_limit_passes_the_size_check(self, post: Post, route: str, tag: str) -> None:
        body = BODIES[route](tag)
        body["padding"] = ""
        size = len(json.dumps(body).encode())
        body["padding"] = "x" * (MAX_BODY_BYTES - size)
        assert len(json.dumps(body).encode()) == MAX_BODY_BYTES
        response = post(route, body)
        # Refused further on, for the unknown field, which proves the size check let it through.
        assert_error(response, 422, "invalid_body", "padding")

    @pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
    def test_non_json_content_type_is_415(
        self, post: Post, route: str, tag: str, content_type: str | None
    ) -> None:
        if content_type is None:
            response = post(route, BODIES[route](tag), drop=("Content-Type",))
        else:
            response = post(route, BODIES[route](tag), headers={"Content-Type": content_type})
        assert_error(response, 415, "unsupported_media_type", "Content-Type")

    @pytest.mark.parametrize(
        "raw",
        [
            b"{not json",
            b"",
            b'{"a": NaN}',
            b"[1, 2]",
            b'"text"',
            b'{"a": "\\u0000"}',
            b"\xff\xfe{}",
            b"[" * 5000,
        ],
        ids=["broken", "empty", "nan", "array", "string", "nul", "not-utf8", "deep"],
    )
    def test_malformed_json_is_400(self, post: Post, route: str, raw: bytes) -> None:
        response = post(route, raw)
        assert_error(response, 400, "malformed_json", "body")


def test_json_content_type_with_charset_is_accepted(tag: str, post: Post, inbox_rows: Rows) -> None:
    response = post("/esign", esign_body(tag), headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 202
    assert len(inbox_rows(tag)) == 1


def test_unconfigured_secret_is_503_and_writes_nothing(
    post: Post,
    tag: str,
    inbox_rows: Rows,
    monkeypatch: pytest.MonkeyPatch,
    fresh_credentials: None,
) -> None:
    # Environment variables come before the metadata DB: this connection has no password.
    monkeypatch.setitem(os.environ, "AIRFLOW_CONN_WEBHOOK_EVENTS", '{"conn_type": "generic"}')

    response = post("/events/partner", outside_body(tag))

    assert_error(response, 503, "not_configured", None)
    assert inbox_rows(tag) == []
