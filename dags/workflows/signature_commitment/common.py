"""What every part of signature_commitment shares: its names, its events and two small conversions."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

DAG_ID = "signature_commitment"
TOKEN_TASK = "verify_approval_token"
TOKEN_STEP = "approval_token"
ENVELOPE_STEP = "signature_request.envelope"
APPROVAL_TOKEN_CONN_ID = "approval_token"
SIGNATURE_EVENTS = ("envelope.signed", "envelope.declined", "envelope.expired")
TERMINAL_ENVELOPE_STATUSES = ("signed", "declined", "expired")
CHOICE_STAGE = "renegotiate_choice"
RENEGOTIATE = "Re-negotiate"
CLOSE_DEAL = "Close deal"
DEAL_DESK = "deal_desk"
DEAL_DESK_EMAIL = "deal_desk@execution-plane.example"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
