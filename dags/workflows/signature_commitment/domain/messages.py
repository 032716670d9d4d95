"""Notices to the parties of a signature request."""

from __future__ import annotations

from datetime import UTC, datetime

from include.domain.common import Message


def _when(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def signed_notice(
    deal_key: str, counterparty: str, *, envelope_id: str, signed_at: datetime, terms_sha256: str
) -> Message:
    body = "\n".join(
        [
            f"The agreement for {deal_key} has been signed by all parties ({counterparty}).",
            f"Signed at: {_when(signed_at)}",
            f"Signature envelope: {envelope_id}",
            f"Terms fingerprint (SHA-256): {terms_sha256}",
            "A sealed evidence pack will follow.",
        ]
    )
    return Message(subject=f"Signed: {deal_key} with {counterparty}", body=body)


def expired_notice(
    deal_key: str,
    counterparty: str,
    *,
    envelope_id: str,
    expired_at: datetime,
    renegotiate_url: str | None = None,
) -> Message:
    lines = [
        f"The signature request for {deal_key} with {counterparty} expired at {_when(expired_at)} "
        "without being signed.",
        f"Signature envelope {envelope_id} has been voided; the terms it carried are no longer on offer.",
    ]
    if renegotiate_url:
        lines.append(f"To re-open negotiation: {renegotiate_url}")
    else:
        lines.append("Reply to this message if you would like to re-open negotiation.")
    return Message(subject=f"Signature request expired: {deal_key}", body="\n".join(lines))


def void_notice(deal_key: str, counterparty: str, *, envelope_id: str, reason: str) -> Message:
    body = "\n".join(
        [
            f"The signature request for {deal_key} with {counterparty} has been withdrawn.",
            f"Signature envelope {envelope_id} is void and can no longer be signed.",
            f"Reason: {reason.strip() or 'not specified'}",
        ]
    )
    return Message(subject=f"Signature request withdrawn: {deal_key}", body=body)
