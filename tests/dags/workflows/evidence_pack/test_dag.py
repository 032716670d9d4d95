"""evidence_pack through dag.test(): a deal's pack built, then rebuilt with the same hash; a record altered
behind the pack's back makes the rebuild a recorded mismatch and fails the run; bad input, a subject with no
workflow and a moment before anything was recorded fail before anything is stored. Checked against
evidence_pack_builds, the ledger and the sandbox's effect log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.seed_workflow import Seeded, seed_workflow
from tests.support.workflow_runs import load_dag, paused

pytestmark = pytest.mark.timeout(120)

DAG_ID = "evidence_pack"


@pytest.fixture(scope="module")
def dag() -> Iterator[Any]:
    dag = load_dag(DAG_ID)
    with paused(DAG_ID):
        yield dag


def one(db: Any, sql: str, *args: Any) -> Any:
    with db.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
    return row if row is None or len(row) > 1 else row[0]


def task_states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def seeded_deal() -> Seeded:
    tag = uuid.uuid4().hex[:8]
    return seed_workflow("seeded_deal_flow", f"ep-{tag}", deal_id=f"D-ep-{tag}")


def puts(sandbox: Any) -> int:
    return len(sandbox.effects(system="docstore", action="put_object"))


def test_a_deal_pack_is_built_stored_and_rebuilt_with_the_same_hash(
    dag: Any, sandbox: Any, business_db: Any
) -> None:
    seeded = seeded_deal()
    as_of = datetime.now(UTC).isoformat()  # after every seeded record, never in the future
    before = puts(sandbox)

    dr = dag.test(run_conf={"subject_type": "deal", "subject_id": seeded.deal_id, "as_of": as_of})

    assert dr.state == "success", task_states(dr)
    pack_id = f"deal:{seeded.deal_id}@{datetime.fromisoformat(as_of):%Y-%m-%dT%H:%M:%S.%fZ}"
    manifest, sha, items, json_sha, pdf_sha, rebuilds, scope = one(
        business_db,
        "SELECT manifest, manifest_sha256, item_count, json_sha256, pdf_sha256, rebuilds, scope"
        " FROM evidence_pack_builds WHERE pack_id = %s",
        pack_id,
    )
    from include.domain.common import canonical_json, sha256_hex

    assert sha256_hex(canonical_json(manifest)) == sha and manifest["deal_key"] == f"deal:{seeded.deal_id}"
    kinds = {item["kind"].split(":", 1)[0] for item in manifest["items"]}
    # Documents, ledger steps, decisions, audit rows, events and messages: every table of the subject.
    assert kinds == {"document", "step", "decision", "audit", "event", "message"}, kinds
    refs = {item["ref"] for item in manifest["items"]}
    assert {seeded.approval_request_id, seeded.message_id, seeded.event_id} <= refs
    assert items == len(manifest["items"]) and rebuilds == 0
    assert scope["workflow_ids"] == [seeded.workflow_id]
    assert (
        one(business_db, "SELECT kind FROM documents WHERE sha256 = %s", json_sha) == "evidence_pack_manifest"
    )
    assert one(business_db, "SELECT kind FROM documents WHERE sha256 = %s", pdf_sha) == "evidence_pack"
    assert puts(sandbox) == before + 2  # the manifest and its PDF
    build_wf = one(business_db, "SELECT workflow_id FROM evidence_pack_builds WHERE pack_id = %s", pack_id)
    assert (
        one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", build_wf) == "completed"
    )

    # The same subject and moment again: the same records, the same hash, the same bytes (nothing new stored).
    again = dag.test(run_conf={"subject_type": "deal", "subject_id": seeded.deal_id, "as_of": as_of})

    assert again.state == "success", task_states(again)
    assert one(
        business_db,
        "SELECT manifest_sha256, rebuilds, mismatch_sha256 FROM evidence_pack_builds WHERE pack_id = %s",
        pack_id,
    ) == (sha, 1, None)
    assert again.get_task_instance("store_pack").xcom_pull(task_ids="store_pack")["status"] == "rebuilt"
    assert puts(sandbox) == before + 2


def test_a_record_altered_after_sealing_makes_the_rebuild_a_mismatch(
    dag: Any, sandbox: Any, business_db: Any
) -> None:
    seeded = seeded_deal()
    as_of = datetime.now(UTC).isoformat()  # after every seeded record, never in the future
    conf = {"subject_type": "workflow", "subject_id": seeded.workflow_id, "as_of": as_of}
    assert dag.test(run_conf=conf).state == "success"
    with business_db.cursor() as cur:
        cur.execute(
            "UPDATE idempotency_keys SET result = %s WHERE key = %s",
            (json.dumps({"deal_id": seeded.deal_id, "recorded": "forged"}), f"{seeded.workflow_id}:record"),
        )

    dr = dag.test(run_conf=conf)

    assert dr.state == "failed" and task_states(dr)["store_pack"] == "failed"
    stored, mismatch = one(
        business_db,
        "SELECT manifest_sha256, mismatch_sha256 FROM evidence_pack_builds WHERE subject_id = %s",
        seeded.workflow_id,
    )
    assert mismatch is not None and mismatch != stored
    build_wf = one(
        business_db,
        "SELECT workflow_id FROM saga_workflows WHERE dag_id = 'evidence_pack' AND reason LIKE %s",
        f"%{mismatch}%",
    )
    assert one(business_db, "SELECT status FROM saga_workflows WHERE workflow_id = %s", build_wf) == "failed"


@pytest.mark.parametrize(
    ("conf", "failed_at"),
    [
        ({"subject_type": "workflow", "subject_id": "D-not-a-workflow-id"}, "resolve_subject"),
        ({"subject_type": "deal", "subject_id": "D-nobody-ever"}, "resolve_subject"),
        ({"subject_type": "deal", "subject_id": "D-x", "as_of": "2099-01-01T00:00:00Z"}, "resolve_subject"),
    ],
    ids=["subject-id-of-another-type", "deal-without-workflows", "as-of-in-the-future"],
)
def test_bad_input_or_an_unknown_subject_stores_nothing(
    dag: Any, business_db: Any, conf: dict[str, Any], failed_at: str
) -> None:
    builds = one(business_db, "SELECT count(*) FROM evidence_pack_builds")
    dr = dag.test(run_conf=conf)
    assert dr.state == "failed" and task_states(dr)[failed_at] == "failed"
    assert task_states(dr)["store_pack"] == "upstream_failed"
    assert one(business_db, "SELECT count(*) FROM evidence_pack_builds") == builds


def test_a_moment_before_anything_was_recorded_stores_nothing(
    dag: Any, sandbox: Any, business_db: Any
) -> None:
    seeded = seeded_deal()
    dr = dag.test(
        run_conf={"subject_type": "deal", "subject_id": seeded.deal_id, "as_of": "2026-01-01T00:00:00Z"}
    )
    assert dr.state == "failed" and task_states(dr)["collect_and_seal"] == "failed"
    assert (
        one(business_db, "SELECT count(*) FROM evidence_pack_builds WHERE subject_id = %s", seeded.deal_id)
        == 0
    )
