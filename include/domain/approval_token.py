"""Approval tokens: proof that a named approver approved *these* terms for *this* workflow.

Format (compact, URL-safe, no padding): ``base64url(canonical JSON claims) + "." + base64url(HMAC-SHA256)``.
The MAC covers the exact first segment, so claims cannot be edited. Claims:
``{"v": 1, "wk": workflow_key, "th": terms_sha256, "ap": approver, "iat": issued_at, "exp": expires_at}``.

Verification order: malformed -> bad_signature -> workflow_mismatch -> terms_mismatch -> expired. The
signature is checked before any claim is trusted; all comparisons of secrets/bindings are constant-time.
A token is valid while ``now < exp``. Time is always passed in (epoch seconds), never read from the clock.

Shared code, not one workflow's: ``signature_commitment`` verifies a token before it sends anything, and a
workflow that starts ``signature_commitment`` as its child (``geo_expansion_launch`` for each local partner's
contract) issues the token for the child's terms; workflows never import each other, so the one format
lives here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Literal

from include.domain.common import canonical_json

TOKEN_VERSION = 1

Reason = Literal["malformed", "bad_signature", "expired", "terms_mismatch", "workflow_mismatch"]


class InvalidApprovalToken(Exception):
    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: Reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ApprovalClaims:
    workflow_key: str
    terms_sha256: str
    approver: str
    issued_at: int
    expires_at: int


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    # Strict alphabet check: urlsafe_b64decode silently drops stray characters otherwise.
    if not text or any(
        c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text
    ):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload_segment: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), payload_segment.encode("ascii"), hashlib.sha256).digest()


def _check_secret(secret: str) -> None:
    if not secret:
        # An empty key makes every token forgeable: refuse rather than "work".
        raise ValueError("approval token secret must not be empty")


def issue_token(
    secret: str,
    *,
    workflow_key: str,
    terms_sha256: str,
    approver: str,
    issued_at: int,
    ttl_s: int,
) -> str:
    _check_secret(secret)
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    if not workflow_key or not terms_sha256 or not approver:
        raise ValueError("workflow_key, terms_sha256 and approver are required")
    claims = {
        "v": TOKEN_VERSION,
        "wk": workflow_key,
        "th": terms_sha256,
        "ap": approver,
        "iat": int(issued_at),
        "exp": int(issued_at) + int(ttl_s),
    }
    payload = _b64e(canonical_json(claims))
    return payload + "." + _b64e(_mac(secret, payload))


def _parse(token: str) -> tuple[str, bytes, ApprovalClaims]:
    if not isinstance(token, str) or token.count(".") != 1:
        raise InvalidApprovalToken("malformed", "expected two segments")
    payload, signature = token.split(".")
    try:
        sig = _b64d(signature)
        claims = json.loads(_b64d(payload).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidApprovalToken("malformed", "undecodable segment") from exc
    if not isinstance(claims, dict) or claims.get("v") != TOKEN_VERSION:
        raise InvalidApprovalToken("malformed", "unknown claims version")
    try:
        parsed = ApprovalClaims(
            workflow_key=_str(claims["wk"]),
            terms_sha256=_str(claims["th"]),
            approver=_str(claims["ap"]),
            issued_at=_int(claims["iat"]),
            expires_at=_int(claims["exp"]),
        )
    except (KeyError, TypeError) as exc:
        raise InvalidApprovalToken("malformed", "missing or mistyped claim") from exc
    return payload, sig, parsed


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected str")
    return value


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected int")
    return value


def verify_token(
    secret: str, token: str, *, workflow_key: str, terms_sha256: str, now: int
) -> ApprovalClaims:
    """Return the claims of a valid token, else raise ``InvalidApprovalToken`` with the reason."""
    _check_secret(secret)
    payload, sig, claims = _parse(token)
    if not hmac.compare_digest(sig, _mac(secret, payload)):
        raise InvalidApprovalToken("bad_signature")
    if not hmac.compare_digest(claims.workflow_key.encode("utf-8"), workflow_key.encode("utf-8")):
        raise InvalidApprovalToken("workflow_mismatch")
    if not hmac.compare_digest(claims.terms_sha256.encode("utf-8"), terms_sha256.encode("utf-8")):
        raise InvalidApprovalToken("terms_mismatch")
    if now >= claims.expires_at:
        raise InvalidApprovalToken("expired", f"expired at {claims.expires_at}")
    return claims
