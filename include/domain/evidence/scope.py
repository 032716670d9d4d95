"""What an evidence pack is collected from, so that it can be collected again and its hash compared.

A pack is sealed over records read from the ledger's tables as of one moment (``until``): the documents,
steps, decisions, audit rows, outside events and (optionally) messages of its workflows, plus items that
come from no table (``extra_items``, e.g. the approval token a workflow was started with). Stored with the
pack, the scope lets anyone collect the same records again: the same records give the same manifest and
the same hash, and a record altered or removed since gives another (``rebuild_check``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from include.domain.common import canonical_json, sha256_hex
from include.domain.evidence.pack import EvidenceItem, EvidencePack, build_evidence_pack


class RecordLike(Protocol):
    """A record read from the ledger (kind, ref, sha256, at), e.g. ``execution_plane.saga.records.Record``."""

    @property
    def kind(self) -> str: ...
    @property
    def ref(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def at(self) -> datetime: ...


def digest(value: Any) -> str:
    """The hash of a collected value (a step's result, a decision, an event's payload): canonical JSON."""
    return sha256_hex(canonical_json(value))


class EvidenceScope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(min_length=1, max_length=300, description="what the pack is about (its deal key)")
    workflow_ids: tuple[str, ...] = Field(min_length=1)
    until: datetime
    correlation_keys: tuple[str, ...] = ()
    correlation_prefixes: tuple[str, ...] = ()
    exclude_document_kinds: tuple[str, ...] = ()
    messages: bool = False
    extra_items: tuple[EvidenceItem, ...] = ()

    @field_validator("until")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @field_validator("workflow_ids")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not w.strip() for w in value):
            raise ValueError("a workflow id must not be empty")
        return tuple(sorted(set(value)))

    def query(self) -> dict[str, Any]:
        """The arguments of the ledger read (``records.records_as_of``), everything but the items."""
        return {
            "until": self.until,
            "correlation_keys": list(self.correlation_keys),
            "correlation_prefixes": list(self.correlation_prefixes),
            "exclude_document_kinds": list(self.exclude_document_kinds),
            "messages": self.messages,
        }

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def pack_from_records(scope: EvidenceScope, records: Iterable[RecordLike]) -> EvidencePack:
    """The pack of ``scope``: its extra items and the records read for it, sealed (order-independent)."""
    items = [
        *scope.extra_items,
        *(EvidenceItem(kind=r.kind, ref=r.ref, sha256=r.sha256, at=r.at) for r in records),
    ]
    return build_evidence_pack(scope.subject, items)


@dataclass(frozen=True)
class RebuildCheck:
    """A stored pack's hash against the hash of the same scope collected again."""

    pack_ref: str
    stored_sha256: str
    rebuilt_sha256: str | None
    item_count: int
    problem: str | None = None

    @property
    def matches(self) -> bool:
        return self.problem is None and self.stored_sha256 == self.rebuilt_sha256

    def describe(self) -> str:
        if self.problem:
            return f"{self.pack_ref}: {self.problem}"
        if self.matches:
            return f"{self.pack_ref}: rebuilt with the same hash {self.stored_sha256[:16]}"
        return (
            f"{self.pack_ref}: hash mismatch, stored {self.stored_sha256[:16]}, rebuilt "
            f"{(self.rebuilt_sha256 or '')[:16]} ({self.item_count} items now)"
        )


def rebuild_check(
    pack_ref: str, stored_manifest: dict[str, Any], stored_sha256: str, rebuilt: EvidencePack | None
) -> RebuildCheck:
    """Compare a stored pack with its rebuild. The stored manifest must also still hash to its seal (a
    manifest edited in place would otherwise hide behind a matching rebuild)."""
    if sha256_hex(canonical_json(stored_manifest)) != stored_sha256:
        edited = "stored manifest does not hash to its seal (edited after sealing)"
        return RebuildCheck(pack_ref, stored_sha256, None, 0, edited)
    if rebuilt is None:
        return RebuildCheck(pack_ref, stored_sha256, None, 0, "no record of its scope is left to rebuild it")
    return RebuildCheck(pack_ref, stored_sha256, rebuilt.manifest_sha256, len(rebuilt.items))
