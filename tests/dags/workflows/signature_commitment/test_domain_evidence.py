from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from include.domain.common import canonical_json, sha256_hex
from workflows.signature_commitment.domain import (
    MANIFEST_SCHEMA,
    EvidenceItem,
    build_evidence_pack,
    evidence_pack_pdf,
    expired_notice,
    signed_notice,
    verify_evidence_pack,
    void_notice,
)

T = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)


def items() -> list[EvidenceItem]:
    return [
        EvidenceItem(kind="term_sheet_pdf", ref="docs/ts-1.pdf", sha256=sha256_hex(b"ts"), at=T),
        EvidenceItem(
            kind="approval_token",
            ref="approval:P-1:exec",
            sha256=sha256_hex(b"tok"),
            at=T + timedelta(hours=1),
        ),
        EvidenceItem(
            kind="signed_document",
            ref="envelope/ENV-9",
            sha256=sha256_hex(b"signed"),
            at=T + timedelta(days=2),
        ),
        EvidenceItem(
            kind="crm_record", ref="crm/deal/D-1", sha256=sha256_hex(b"crm"), at=T + timedelta(days=2)
        ),
    ]


def test_manifest_is_canonical_and_sealed() -> None:
    pack = build_evidence_pack("deal:D-1", items())
    assert pack.manifest["schema"] == MANIFEST_SCHEMA
    assert pack.manifest["item_count"] == 4
    assert pack.manifest_sha256 == sha256_hex(canonical_json(pack.manifest))
    assert pack.manifest_bytes() == canonical_json(json.loads(pack.manifest_bytes()))
    assert b" " not in pack.manifest_bytes()
    for item in items():
        assert item.sha256 in pack.manifest_bytes().decode()
    assert verify_evidence_pack(pack)


def test_items_sorted_canonically_and_hash_order_independent() -> None:
    reference = build_evidence_pack("deal:D-1", items())
    for seed in range(5):
        shuffled = items()
        random.Random(seed).shuffle(shuffled)
        pack = build_evidence_pack("deal:D-1", shuffled)
        assert pack.manifest_sha256 == reference.manifest_sha256
        assert pack.items == reference.items
    keys = [(i.at, i.kind) for i in reference.items]
    assert keys == sorted(keys)
    assert [i.kind for i in reference.items][-2:] == ["crm_record", "signed_document"]  # same time: by kind


def test_duplicate_items_are_kept_once() -> None:
    once = build_evidence_pack("deal:D-1", items())
    twice = build_evidence_pack("deal:D-1", items() + items()[:2])
    assert twice.manifest_sha256 == once.manifest_sha256


def test_any_item_change_changes_the_seal() -> None:
    base = build_evidence_pack("deal:D-1", items()).manifest_sha256
    changed = items()
    changed[2] = changed[2].model_copy(update={"sha256": sha256_hex(b"signed!")})
    assert build_evidence_pack("deal:D-1", changed).manifest_sha256 != base
    assert build_evidence_pack("deal:D-1", items()[:3]).manifest_sha256 != base
    assert build_evidence_pack("deal:D-2", items()).manifest_sha256 != base


def test_timestamps_normalised_to_utc() -> None:
    plus3 = timezone(timedelta(hours=3))
    a = EvidenceItem(kind="k", ref="r", sha256="A" * 64, at=datetime(2025, 6, 1, 12, 30, tzinfo=plus3))
    b = EvidenceItem(kind="k", ref="r", sha256="a" * 64, at=datetime(2025, 6, 1, 9, 30))  # naive = UTC
    c = EvidenceItem.model_validate(
        {"kind": "k", "ref": "r", "sha256": "a" * 64, "at": "2025-06-01T09:30:00Z"}
    )
    assert a.manifest_entry() == b.manifest_entry() == c.manifest_entry()
    assert a.manifest_entry()["at"] == "2025-06-01T09:30:00Z"
    micro = EvidenceItem(kind="k", ref="r", sha256="a" * 64, at=T.replace(microsecond=5))
    assert micro.manifest_entry()["at"] == "2025-06-01T09:30:00.000005Z"


@pytest.mark.parametrize(
    "bad",
    [{"sha256": "xyz"}, {"sha256": "a" * 63}, {"kind": " "}, {"ref": ""}],
)
def test_item_validation(bad: dict) -> None:
    data = {"kind": "k", "ref": "r", "sha256": "a" * 64, "at": T, **bad}
    with pytest.raises(ValidationError):
        EvidenceItem.model_validate(data)


def test_empty_pack_and_missing_key_rejected() -> None:
    with pytest.raises(ValueError):
        build_evidence_pack("deal:D-1", [])
    with pytest.raises(ValueError):
        build_evidence_pack("", items())


def test_tampered_manifest_detected() -> None:
    pack = build_evidence_pack("deal:D-1", items())
    forged = dict(pack.manifest, item_count=3)
    assert not verify_evidence_pack(pack.model_copy(update={"manifest": forged}))
    assert not verify_evidence_pack(pack.model_copy(update={"manifest_sha256": "0" * 64}))
    assert not verify_evidence_pack(pack.model_copy(update={"items": items()[:3]}))


def test_pack_round_trips_through_json() -> None:
    pack = build_evidence_pack("deal:D-1", items())
    from workflows.signature_commitment.domain import EvidencePack

    again = EvidencePack.model_validate_json(pack.model_dump_json())
    assert again.manifest_sha256 == pack.manifest_sha256 and verify_evidence_pack(again)


def test_evidence_pack_pdf_deterministic() -> None:
    a = evidence_pack_pdf(build_evidence_pack("deal:D-1", items()))
    shuffled = list(reversed(items()))
    assert a.startswith(b"%PDF-")
    assert a == evidence_pack_pdf(build_evidence_pack("deal:D-1", shuffled))
    # Dated by the latest item, not by the clock.
    assert b"/CreationDate (D:20250603093000Z)" in a


@given(st.permutations(list(range(4))))
def test_seal_is_permutation_invariant(order: list[int]) -> None:
    base = items()
    assert (
        build_evidence_pack("d", [base[i] for i in order]).manifest_sha256
        == build_evidence_pack("d", base).manifest_sha256
    )


def test_notices() -> None:
    signed = signed_notice("deal:D-1", "Gulf Apps", envelope_id="ENV-9", signed_at=T, terms_sha256="f" * 64)
    assert signed.subject == "Signed: deal:D-1 with Gulf Apps"
    assert "2025-06-01 09:30 UTC" in signed.body and "ENV-9" in signed.body and "f" * 64 in signed.body

    plus3 = timezone(timedelta(hours=3))
    expired = expired_notice(
        "deal:D-1", "Gulf Apps", envelope_id="ENV-9", expired_at=datetime(2025, 6, 8, 12, 0, tzinfo=plus3)
    )
    assert "2025-06-08 09:00 UTC" in expired.body and "voided" in expired.body and "Reply" in expired.body
    link = expired_notice(
        "deal:D-1", "Gulf Apps", envelope_id="ENV-9", expired_at=T, renegotiate_url="https://crm/x"
    )
    assert "https://crm/x" in link.body

    void = void_notice("deal:D-1", "Gulf Apps", envelope_id="ENV-9", reason="  ")
    assert "withdrawn" in void.subject and "not specified" in void.body
    assert "Terms changed" in void_notice("d", "c", envelope_id="e", reason="Terms changed").body
