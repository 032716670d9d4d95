"""Evidence packs: a canonical, hash-sealed manifest of everything that proves what a workflow or a deal did.

Shared by every workflow that seals evidence (signature_commitment's pack after a signature, the
evidence_pack workflow for any workflow or deal, compliance_scan's rebuild of both).

The manifest is canonical JSON (sorted keys, no whitespace) listing every item's kind, ref, sha256 and
timestamp, sorted canonically (by time, then kind, ref, sha256); ``manifest_sha256`` is the SHA-256 of
those bytes, so it covers every item hash and does not depend on the order items were collected in.
Identical items are kept once (a retried collection step must not change the seal). Timestamps are
normalised to UTC ("...Z"); a naive datetime is taken as UTC so the seal is the same on every machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from include.domain.common import canonical_json, sha256_hex
from include.domain.documents import Section, Table, render_pdf

MANIFEST_SCHEMA = "execution-plane/evidence-pack/v1"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class EvidenceItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str  # e.g. term_sheet_pdf, approval_token, signed_document, crm_record, esign_event
    ref: str  # where it lives: document uri, envelope id, CRM record id...
    sha256: str
    at: datetime

    @field_validator("kind", "ref")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        value = value.lower()
        if not _SHA256.match(value):
            raise ValueError("sha256 must be 64 hex characters")
        return value

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def manifest_entry(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "ref": self.ref,
            "sha256": self.sha256,
            "at": self.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if self.at.microsecond
            else self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


class EvidencePack(BaseModel):
    model_config = ConfigDict(frozen=True)

    deal_key: str
    manifest: dict[str, Any]
    manifest_sha256: str
    items: list[EvidenceItem]

    def manifest_bytes(self) -> bytes:
        return canonical_json(self.manifest)


def _item_key(item: EvidenceItem) -> tuple[datetime, str, str, str]:
    # Canonical order: chronological (what a reader of the pack expects), ties broken by every other field,
    # so the order is total and never depends on how the items were collected.
    return (item.at, item.kind, item.ref, item.sha256)


def build_evidence_pack(deal_key: str, items: Iterable[EvidenceItem]) -> EvidencePack:
    if not deal_key:
        raise ValueError("deal_key is required")
    unique = {_item_key(i): i for i in items}
    if not unique:
        # An empty seal proves nothing; failing makes a broken collection step visible.
        raise ValueError("an evidence pack needs at least one item")
    ordered = [unique[k] for k in sorted(unique)]
    manifest: dict[str, Any] = {
        "schema": MANIFEST_SCHEMA,
        "deal_key": deal_key,
        "item_count": len(ordered),
        "items": [i.manifest_entry() for i in ordered],
    }
    return EvidencePack(
        deal_key=deal_key,
        manifest=manifest,
        manifest_sha256=sha256_hex(canonical_json(manifest)),
        items=ordered,
    )


def verify_evidence_pack(pack: EvidencePack) -> bool:
    """True when the manifest still matches its seal and its items (detects edits after sealing)."""
    rebuilt = build_evidence_pack(pack.deal_key, pack.items)
    return rebuilt.manifest == pack.manifest and sha256_hex(pack.manifest_bytes()) == pack.manifest_sha256


def evidence_pack_pdf(pack: EvidencePack) -> bytes:
    """Human-readable evidence pack, dated by its latest item (deterministic)."""
    latest = max(i.at for i in pack.items)
    rows = [[e["kind"], e["ref"], e["sha256"], e["at"]] for e in pack.manifest["items"]]
    sections = [
        Section(
            heading="Seal",
            paragraphs=[
                f"Subject: {pack.deal_key}",
                f"Items: {pack.manifest['item_count']}",
                f"Manifest SHA-256: {pack.manifest_sha256}",
                "The manifest is canonical JSON (sorted keys, no whitespace); its SHA-256 covers every item "
                "hash listed below.",
            ],
        ),
        Section(
            heading="Items",
            tables=[
                Table(
                    header=["Kind", "Reference", "SHA-256", "At (UTC)"],
                    rows=rows,
                    col_widths=[1.4, 1.8, 3.6, 1.6],
                )
            ],
        ),
    ]
    return render_pdf(
        f"Evidence Pack: {pack.deal_key}",
        sections,
        metadata={
            "created_at": latest.isoformat(),
            "author": "Execution Plane",
            "subject": f"Evidence pack of {pack.deal_key}",
            "keywords": f"manifest_sha256:{pack.manifest_sha256}",
        },
    )
