from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from include.security.hmac_signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    signed_headers,
    verify,
)

SECRET = "whsec-test"
BODY = b'{"event_id":"evt_1","type":"envelope.signed"}'
NOW = 1_700_000_000


def _fail(timestamp: str | None, signature: str | None, body: bytes = BODY) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        verify(SECRET, timestamp, signature, body, now=NOW)
    return caught.value


def test_header_names_are_the_documented_ones() -> None:
    assert TIMESTAMP_HEADER == "X-EP-Timestamp"
    assert SIGNATURE_HEADER == "X-EP-Signature"


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"sha256={expected}"


def test_valid_signature_passes() -> None:
    verify(SECRET, str(NOW), sign(SECRET, NOW, BODY), BODY, now=NOW)


def test_signature_is_case_and_whitespace_tolerant() -> None:
    signature = sign(SECRET, NOW, BODY)
    verify(SECRET, f" {NOW} ", "sha256=" + signature.removeprefix("sha256=").upper(), BODY, now=NOW)


def test_timestamp_at_the_window_edges_passes() -> None:
    verify(SECRET, str(NOW - 300), sign(SECRET, NOW - 300, BODY), BODY, now=NOW)
    verify(SECRET, str(NOW + 300), sign(SECRET, NOW + 300, BODY), BODY, now=NOW)


@pytest.mark.parametrize("timestamp", [None, "", "   "])
def test_missing_timestamp(timestamp: str | None) -> None:
    error = _fail(timestamp, sign(SECRET, NOW, BODY))
    assert (error.field, error.message) == (TIMESTAMP_HEADER, "missing header")


@pytest.mark.parametrize("timestamp", ["abc", "1.5", "-1", "+1700000000", "1_700_000_000", "1" * 13])
def test_non_integer_timestamp(timestamp: str) -> None:
    error = _fail(timestamp, sign(SECRET, NOW, BODY))
    assert error.field == TIMESTAMP_HEADER
    assert "integer" in error.message


@pytest.mark.parametrize("skew", [-301, 301, -86_400, 86_400])
def test_timestamp_outside_window_either_side(skew: int) -> None:
    timestamp = NOW + skew
    error = _fail(str(timestamp), sign(SECRET, timestamp, BODY))
    assert error.field == TIMESTAMP_HEADER
    assert "window" in error.message


def test_custom_window() -> None:
    with pytest.raises(SignatureError):
        verify(SECRET, str(NOW - 61), sign(SECRET, NOW - 61, BODY), BODY, now=NOW, window_s=60)
    verify(SECRET, str(NOW - 60), sign(SECRET, NOW - 60, BODY), BODY, now=NOW, window_s=60)


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_signature(signature: str | None) -> None:
    error = _fail(str(NOW), signature)
    assert (error.field, error.message) == (SIGNATURE_HEADER, "missing header")


@pytest.mark.parametrize(
    "signature",
    [
        "abc",
        "sha256=",
        "sha256=xyz",
        "sha1=" + "0" * 40,
        "sha256=" + "0" * 63,
        "sha256=" + "g" * 64,
        "0" * 64,
    ],
)
def test_malformed_signature(signature: str) -> None:
    error = _fail(str(NOW), signature)
    assert error.field == SIGNATURE_HEADER
    assert "malformed" in error.message


def test_tampered_body_is_a_mismatch() -> None:
    error = _fail(str(NOW), sign(SECRET, NOW, BODY), body=BODY + b" ")
    assert (error.field, error.message) == (SIGNATURE_HEADER, "signature mismatch")


def test_wrong_secret_is_a_mismatch() -> None:
    error = _fail(str(NOW), sign("another-secret", NOW, BODY))
    assert error.message == "signature mismatch"


def test_replayed_signature_with_a_fresh_timestamp_is_a_mismatch() -> None:
    """Moving the timestamp forward to slip into the window breaks the MAC."""
    error = _fail(str(NOW), sign(SECRET, NOW - 3600, BODY))
    assert error.message == "signature mismatch"


def test_empty_secret_is_refused_on_both_sides() -> None:
    with pytest.raises(ValueError):
        sign("", NOW, BODY)
    with pytest.raises(ValueError):
        verify("", str(NOW), "sha256=" + "0" * 64, BODY, now=NOW)


def test_signature_error_carries_field_and_message() -> None:
    error = SignatureError(SIGNATURE_HEADER, "signature mismatch")
    assert str(error) == "X-EP-Signature: signature mismatch"


def test_signed_headers_round_trip() -> None:
    headers = signed_headers(SECRET, BODY, NOW + 0.9)
    assert headers["Content-Type"] == "application/json"
    assert headers[TIMESTAMP_HEADER] == str(NOW)
    verify(SECRET, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], BODY, now=NOW + 1)


@given(body=st.binary(max_size=512), secret=st.text(min_size=1, max_size=40), skew=st.integers(-300, 300))
def test_any_signed_body_verifies(body: bytes, secret: str, skew: int) -> None:
    headers = signed_headers(secret, body, NOW + skew)
    verify(secret, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body, now=NOW)


@given(body=st.binary(min_size=1, max_size=256), index=st.integers(min_value=0), flip=st.integers(1, 255))
def test_any_single_byte_change_is_rejected(body: bytes, index: int, flip: int) -> None:
    position = index % len(body)
    tampered = body[:position] + bytes([body[position] ^ flip]) + body[position + 1 :]
    with pytest.raises(SignatureError):
        verify(SECRET, str(NOW), sign(SECRET, NOW, body), tampered, now=NOW)
