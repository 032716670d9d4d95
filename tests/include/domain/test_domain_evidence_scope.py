"""include.domain.evidence's scope: what a pack is collected from, and the rebuild check that compares a
stored pack with the same scope collected again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from include.domain.common import canonical_json, sha256_hex
from include.domain.evidence import (
    EvidenceItem,
    EvidenceScope,
    digest,
    pack_from_records,
    rebuild_check,
)

T = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Rec:
    kind: str
    ref: str
    sha256: str
    at: datetime


def recs() -> list[Rec]:
    return [
        Rec("document:terms", "docstore://a", sha256_hex(b"a"), T),
        Rec("step:email.send", "notice.signer", digest({"message_id": "m1"}), T + timedelta(minutes=1)),
        Rec("decision:manager", "wf:manager", digest(["wf:manager", "approved", "manager", None]), T),
    ]


def scope(**overrides: object) -> EvidenceScope:
    base: dict[str, object] = {
        "subject": "deal:D-1",
        "workflow_ids": ["b:2", "a:1", "a:1"],
        "until": T + timedelta(hours=1),
        "correlation_prefixes": ["a:1"],
        "messages": True,
    }
    return EvidenceScope.model_validate({**base, **overrides})


def test_scope_round_trips_through_json_and_sorts_its_workflows() -> None:
    s = scope(extra_items=[{"kind": "approval_token", "ref": "approver:x", "sha256": "a" * 64, "at": T}])
    assert s.workflow_ids == ("a:1", "b:2")
    again = EvidenceScope.model_validate(s.as_json())
    assert again == s
    assert again.query()["until"] == T + timedelta(hours=1)


def test_scope_refuses_what_cannot_be_collected() -> None:
    with pytest.raises(ValidationError, match="workflow_ids"):
        scope(workflow_ids=[])
    with pytest.raises(ValidationError, match="subject"):
        scope(subject="")
    with pytest.raises(ValidationError, match="extra"):
        scope(tables=["x"])


def test_naive_until_is_utc() -> None:
    assert scope(until=datetime(2026, 3, 1, 10, 0)).until == T + timedelta(hours=1)


def test_pack_from_records_is_order_independent_and_includes_extra_items() -> None:
    token = EvidenceItem(kind="approval_token", ref="approver:x", sha256="b" * 64, at=T)
    s = scope(extra_items=[token])
    pack = pack_from_records(s, recs())
    assert pack.manifest_sha256 == pack_from_records(s, list(reversed(recs()))).manifest_sha256
    assert {i["kind"] for i in pack.manifest["items"]} >= {"approval_token", "document:terms"}
    assert pack.deal_key == "deal:D-1" and len(pack.items) == 4


def test_digest_is_canonical() -> None:
    assert digest({"b": 1, "a": [1, 2]}) == sha256_hex(canonical_json({"a": [1, 2], "b": 1}))
    assert digest({"a": 1}) != digest({"a": 2})


def test_rebuild_check_matches_an_untouched_pack() -> None:
    pack = pack_from_records(scope(), recs())
    check = rebuild_check("p1", pack.manifest, pack.manifest_sha256, pack_from_records(scope(), recs()))
    assert check.matches and "same hash" in check.describe()


def test_rebuild_check_fails_when_a_record_changed_or_went_missing() -> None:
    pack = pack_from_records(scope(), recs())
    altered = [*recs()[:2], Rec("decision:manager", "wf:manager", digest(["wf:manager", "rejected"]), T)]
    check = rebuild_check("p1", pack.manifest, pack.manifest_sha256, pack_from_records(scope(), altered))
    assert not check.matches and "hash mismatch" in check.describe()
    fewer = rebuild_check("p1", pack.manifest, pack.manifest_sha256, pack_from_records(scope(), recs()[:2]))
    assert not fewer.matches and fewer.item_count == 2


def test_rebuild_check_fails_on_an_edited_manifest_even_if_the_rebuild_matches() -> None:
    pack = pack_from_records(scope(), recs())
    edited = {**pack.manifest, "item_count": 99}
    check = rebuild_check("p1", edited, pack.manifest_sha256, pack_from_records(scope(), recs()))
    assert not check.matches and "edited after sealing" in check.describe()


def test_rebuild_check_fails_when_nothing_is_left() -> None:
    pack = pack_from_records(scope(), recs())
    check = rebuild_check("p1", pack.manifest, pack.manifest_sha256, None)
    assert not check.matches and "no record" in check.describe()
