"""Signature / Term Sheet Commitment Flow (PRIORITY 3): approval tokens, evidence packs, notices.

API:
    issue_token(secret: str, *, workflow_key: str, terms_sha256: str, approver: str, issued_at: int,
                ttl_s: int) -> str          base64url(claims JSON) + "." + base64url(HMAC-SHA256)
    verify_token(secret, token, *, workflow_key: str, terms_sha256: str, now: int) -> ApprovalClaims
        raises InvalidApprovalToken(reason: "malformed"|"bad_signature"|"expired"|"terms_mismatch"
                                            |"workflow_mismatch")
    ApprovalClaims(workflow_key, terms_sha256, approver, issued_at, expires_at)
    EvidenceItem(kind, ref, sha256, at: datetime)
    build_evidence_pack(deal_key, items) -> EvidencePack(deal_key, manifest: dict, manifest_sha256,
                                                         items sorted canonically)   (order-independent)
    verify_evidence_pack(pack) -> bool
    evidence_pack_pdf(pack) -> bytes        (evidence packs are shared code: include.domain.evidence)
    signed_notice(deal_key, counterparty, *, envelope_id, signed_at, terms_sha256) -> Message
    expired_notice(deal_key, counterparty, *, envelope_id, expired_at, renegotiate_url=None) -> Message
    void_notice(deal_key, counterparty, *, envelope_id, reason) -> Message
"""

from __future__ import annotations

from include.domain.approval_token import (
    ApprovalClaims,
    InvalidApprovalToken,
    issue_token,
    verify_token,
)
from include.domain.common import Message
from include.domain.evidence import (
    MANIFEST_SCHEMA,
    EvidenceItem,
    EvidencePack,
    build_evidence_pack,
    evidence_pack_pdf,
    verify_evidence_pack,
)
from workflows.signature_commitment.domain.messages import expired_notice, signed_notice, void_notice

__all__ = [
    "MANIFEST_SCHEMA",
    "ApprovalClaims",
    "EvidenceItem",
    "EvidencePack",
    "InvalidApprovalToken",
    "Message",
    "build_evidence_pack",
    "evidence_pack_pdf",
    "expired_notice",
    "issue_token",
    "signed_notice",
    "verify_evidence_pack",
    "verify_token",
    "void_notice",
]
