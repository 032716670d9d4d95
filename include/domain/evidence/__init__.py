"""Evidence packs: canonical, hash-sealed manifests of a workflow's or a deal's records, and their scope.

API:
    EvidenceItem(kind, ref, sha256, at: datetime)
    build_evidence_pack(deal_key, items) -> EvidencePack(deal_key, manifest: dict, manifest_sha256,
                                                         items sorted canonically)   (order-independent)
    verify_evidence_pack(pack) -> bool
    evidence_pack_pdf(pack) -> bytes
    EvidenceScope(subject, workflow_ids, until, correlation_keys, correlation_prefixes,
                  exclude_document_kinds, messages, extra_items)      what a pack is collected from
    digest(value) -> str                         the hash of a collected value (canonical JSON)
    pack_from_records(scope, records) -> EvidencePack
    rebuild_check(pack_ref, stored_manifest, stored_sha256, rebuilt) -> RebuildCheck(matches, describe())
"""

from __future__ import annotations

from include.domain.evidence.pack import (
    MANIFEST_SCHEMA,
    EvidenceItem,
    EvidencePack,
    build_evidence_pack,
    evidence_pack_pdf,
    verify_evidence_pack,
)
from include.domain.evidence.scope import (
    EvidenceScope,
    RebuildCheck,
    RecordLike,
    digest,
    pack_from_records,
    rebuild_check,
)

__all__ = [
    "MANIFEST_SCHEMA",
    "EvidenceItem",
    "EvidencePack",
    "EvidenceScope",
    "RebuildCheck",
    "RecordLike",
    "build_evidence_pack",
    "digest",
    "evidence_pack_pdf",
    "pack_from_records",
    "rebuild_check",
    "verify_evidence_pack",
]
