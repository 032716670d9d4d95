from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.signature_commitment.domain import (
    ApprovalClaims,
    InvalidApprovalToken,
    issue_token,
    verify_token,
)

SECRET = "s3cret-key"
WK = "partner_approval:P-1"
TH = "a" * 64
T0 = 1_700_000_000


def token(**over: object) -> str:
    kwargs: dict = {
        "workflow_key": WK,
        "terms_sha256": TH,
        "approver": "cfo@example.com",
        "issued_at": T0,
        "ttl_s": 3600,
    }
    kwargs.update(over)
    return issue_token(SECRET, **kwargs)


def reason(tok: str, *, secret: str = SECRET, wk: str = WK, th: str = TH, now: int = T0 + 10) -> str:
    with pytest.raises(InvalidApprovalToken) as exc:
        verify_token(secret, tok, workflow_key=wk, terms_sha256=th, now=now)
    return exc.value.reason


def test_round_trip() -> None:
    claims = verify_token(SECRET, token(), workflow_key=WK, terms_sha256=TH, now=T0 + 10)
    assert claims == ApprovalClaims(WK, TH, "cfo@example.com", T0, T0 + 3600)


def test_token_is_compact_url_safe_and_deterministic() -> None:
    tok = token()
    assert tok == token()
    assert tok.count(".") == 1
    assert set(tok) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    payload = tok.split(".")[0]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims == {"v": 1, "wk": WK, "th": TH, "ap": "cfo@example.com", "iat": T0, "exp": T0 + 3600}


def test_expiry_boundary() -> None:
    verify_token(SECRET, token(), workflow_key=WK, terms_sha256=TH, now=T0 + 3599)
    assert reason(token(), now=T0 + 3600) == "expired"
    assert reason(token(), now=T0 + 10**6) == "expired"


def test_wrong_secret_is_bad_signature() -> None:
    assert reason(token(), secret="other") == "bad_signature"


def test_tampered_claims_are_bad_signature() -> None:
    payload, sig = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = T0 + 10**9
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert reason(f"{forged}.{sig}") == "bad_signature"


def test_tampered_signature_is_bad_signature() -> None:
    payload, sig = token().split(".")
    flipped = ("B" if sig[0] == "A" else "A") + sig[1:]
    assert reason(f"{payload}.{flipped}") == "bad_signature"
    assert reason(f"{payload}.{sig[:-4]}") in ("bad_signature", "malformed")


def test_terms_mismatch() -> None:
    assert reason(token(), th="b" * 64) == "terms_mismatch"


def test_workflow_mismatch() -> None:
    assert reason(token(), wk="partner_approval:P-2") == "workflow_mismatch"


def test_signature_checked_before_claims() -> None:
    # An attacker must not learn which binding failed without holding the secret.
    assert reason(token(), secret="x", wk="other", th="b" * 64, now=T0 + 10**6) == "bad_signature"


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "a.b.c", ".", "!!!.???", "e30.", "e30.AAAA", "bm90IGpzb24.AAAA", "W10.AAAA"],
)
def test_malformed(bad: str) -> None:
    assert reason(bad) == "malformed"


def test_malformed_missing_claims_even_if_signed() -> None:
    import hashlib
    import hmac

    payload = base64.urlsafe_b64encode(b'{"v":1,"wk":"x"}').rstrip(b"=").decode()
    sig = base64.urlsafe_b64encode(hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).digest())
    assert reason(f"{payload}.{sig.rstrip(b'=').decode()}") == "malformed"


def test_non_string_token_is_malformed() -> None:
    assert reason(None) == "malformed"  # type: ignore[arg-type]


@pytest.mark.parametrize("over", [{"ttl_s": 0}, {"ttl_s": -5}, {"approver": ""}, {"terms_sha256": ""}])
def test_issue_rejects_bad_arguments(over: dict) -> None:
    with pytest.raises(ValueError):
        token(**over)


def test_empty_secret_refused() -> None:
    with pytest.raises(ValueError):
        issue_token("", workflow_key=WK, terms_sha256=TH, approver="a", issued_at=T0, ttl_s=1)
    with pytest.raises(ValueError):
        verify_token("", token(), workflow_key=WK, terms_sha256=TH, now=T0)


def test_exception_message_carries_reason() -> None:
    err = InvalidApprovalToken("expired", "at 5")
    assert str(err) == "expired: at 5" and err.reason == "expired"


@given(
    wk=st.text(min_size=1, max_size=40),
    approver=st.text(min_size=1, max_size=40),
    iat=st.integers(min_value=0, max_value=2**40),
    ttl=st.integers(min_value=1, max_value=10**7),
)
def test_round_trip_property(wk: str, approver: str, iat: int, ttl: int) -> None:
    tok = issue_token(SECRET, workflow_key=wk, terms_sha256=TH, approver=approver, issued_at=iat, ttl_s=ttl)
    claims = verify_token(SECRET, tok, workflow_key=wk, terms_sha256=TH, now=iat)
    assert (claims.workflow_key, claims.approver, claims.expires_at) == (wk, approver, iat + ttl)
