"""What every part of ma_offer shares: its names, the shape of its graph and a few small reads."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

#: The graph holds this many review rounds and target answers; the run's params may allow fewer.
MAX_REVIEW_ROUNDS = 3
MAX_COUNTER_ROUNDS = 3
REVIEWERS = ("counsel", "advisor")
# What the outside parties send (the firms' and the regulator's portal's webhooks, the target's answers).
REVIEW_EVENTS = ("review.opinion_issued", "review.changes_requested")
FILING_DECISIONS = ("filing.cleared", "filing.cleared_with_conditions", "filing.refused")
TARGET_RESPONSES = ("offer.accepted", "offer.countered", "offer.rejected")
BOARD = "board"
APPROVAL_EMAIL_DOMAIN = "execution-plane.example"
FILING_KIND = "merger_control"
SIGNING_STAGE = "signing"
SIGNATURE_DAG = "signature_commitment"
APPROVAL_TOKEN_CONN_ID = "approval_token"
#: How long the approval token handed to the signing child stays valid (it is checked when the child starts).
TOKEN_TTL_S = 7 * 24 * 3600


def when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def deadline(cur: Any, hours: float) -> str:
    """now + ``hours`` by the database's clock, as ISO: a wait's deadline, fixed once by the step's ledger."""
    cur.execute("SELECT now() + make_interval(secs => %s)", (float(hours) * 3600,))
    return str(cur.fetchone()[0].isoformat())


def offer_row(saga: Saga) -> dict[str, Any]:
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT status, stage, version, board_price_usd, agreed_price_usd, room_id, child_workflow_id,"
            " target_company, target_contact_email FROM ma_offers WHERE workflow_id = %s",
            (saga.workflow_id,),
        )
        row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"{saga.workflow_id}: no offer record")
    names = ("status", "stage", "version", "board_price_usd", "agreed_price_usd", "room_id")
    return dict(
        zip((*names, "child_workflow_id", "target_company", "target_contact_email"), row, strict=True)
    )


def version_terms(saga: Saga, version: int) -> dict[str, Any]:
    """The stored terms of one version (as ``OfferTerms`` fields)."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT terms FROM ma_offer_versions WHERE workflow_id = %s AND version = %s",
            (saga.workflow_id, version),
        )
        row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"{saga.workflow_id}: no offer version {version}")
    terms: dict[str, Any] = row[0]
    return terms


def is_signed(saga: Saga) -> bool:
    """The offer was signed (the signing child completed): undos that reach outside parties keep it."""
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM ma_offers WHERE workflow_id = %s", (saga.workflow_id,))
        row = cur.fetchone()
    return bool(row and row[0] == "signed")
