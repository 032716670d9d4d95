"""execution_plane.saga.records: a workflow's records as of a moment (what an evidence pack is sealed over and
rebuilt from), and the reads the compliance checks use. On a scratch business database, so every row each
whole-table read sees is the test's own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest

from execution_plane.saga import audit, records
from tests.support.scratch_db import scratch_business_db

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def db(business_db_url: str) -> Iterator[Any]:
    with scratch_business_db(business_db_url, "ep_records") as url:
        conn = psycopg2.connect(url)
        conn.autocommit = True
        try:
            seed(conn)
            yield conn
        finally:
            conn.close()


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def seed(conn: Any) -> None:
    with conn.cursor() as cur:
        for wf, dag, status in (
            ("sig:1", "signature_commitment", "completed"),
            ("sig:10", "dd_room", "running"),
        ):
            cur.execute(
                "INSERT INTO saga_workflows (workflow_id, dag_id, run_id, business_key, status, updated_at)"
                " VALUES (%s, %s, 'r', %s, %s, %s)",
                (wf, dag, wf.split(":")[1], status, at(30)),
            )
        cur.execute(
            "INSERT INTO idempotency_keys (key, scope, workflow_id, request_hash, status, result)"
            " VALUES ('sig:1:send', 'api', 'sig:1', 'h', 'done', %s)",
            (json.dumps({"envelope_id": "E1"}),),
        )
        cur.execute(
            "INSERT INTO saga_steps (workflow_id, step, idempotency_key, side_effect, compensation_action,"
            " status, done_at) VALUES ('sig:1', 'send', 'sig:1:send', 'esign.create_envelope',"
            " 'esign.void_envelope', 'done', %s)",
            (at(1),),
        )
        cur.execute(
            "INSERT INTO documents (sha256, kind, uri, size_bytes, workflow_id, created_at) VALUES"
            " (%s, 'terms', 'docstore://t', 3, 'sig:1', %s), (%s, 'evidence_pack', 'docstore://e', 3,"
            " 'sig:1', %s)",
            ("a" * 64, at(0), "b" * 64, at(2)),
        )
        cur.execute(
            "INSERT INTO approval_requests (request_id, workflow_id, stage, dag_id, run_id, task_id,"
            " assignees, subject, status, decision, decided_by, decided_at, created_at) VALUES"
            " ('sig:1:gate', 'sig:1', 'gate', 'signature_commitment', 'r', 't', %s, 's', 'approved',"
            " 'approved', 'manager', %s, %s)",
            (["manager", "admin"], at(20), at(0)),
        )
        cur.execute(
            "INSERT INTO outbound_messages (message_id, workflow_id, step, channel, recipient, template,"
            " body_sha256, status, created_at, sent_at) VALUES ('m1', 'sig:1', 'n', 'email', 'a@x.example',"
            " 'notice', 'c', 'sent', %s, %s)",
            (at(3), at(25)),
        )
        for event_id, key in (("e1", "sig:1"), ("e2", "sig:1:round:2"), ("e3", "sig:10:round:1")):
            cur.execute(
                "INSERT INTO external_events (event_id, source, event_type, correlation_key, payload,"
                " received_at) VALUES (%s, 'esign', 'envelope.signed', %s, '{}', %s)",
                (event_id, key, at(4)),
            )
        audit.append(cur, actor="t", workflow_id="sig:1", action="workflow.started", details={})


def kinds(found: list[records.Record]) -> dict[str, str]:
    return {r.ref: r.kind for r in found}


def test_records_as_of_reads_every_table_of_the_workflow(db: Any) -> None:
    with db.cursor() as cur:
        found = records.records_as_of(
            cur,
            ["sig:1"],
            until=datetime.now(UTC) + timedelta(days=1),  # the audit row is dated by the database's clock
            correlation_prefixes=["sig:1"],
            correlation_keys=["sig:1"],
            messages=True,
        )
    by_kind = sorted(r.kind for r in found)
    assert by_kind == sorted(
        [
            "document:terms",
            "document:evidence_pack",
            "step:esign.create_envelope",
            "decision:gate",
            "audit:workflow.started",
            "event:envelope.signed",
            "event:envelope.signed",
            "message:email",
        ]
    ), by_kind
    # The prefix takes sig:1's own keys, never sig:10's.
    assert {r.ref for r in found if r.kind.startswith("event:")} == {"e1", "e2"}


def test_as_of_a_moment_before_the_decision_and_the_send(db: Any) -> None:
    with db.cursor() as cur:
        early = records.records_as_of(cur, ["sig:1"], until=at(10), messages=True)
        late = records.records_as_of(cur, ["sig:1"], until=at(60), messages=True)
        again = records.records_as_of(cur, ["sig:1"], until=at(10), messages=True)
    decision_early = next(r for r in early if r.kind == "decision:gate")
    decision_late = next(r for r in late if r.kind == "decision:gate")
    assert decision_early.sha256 != decision_late.sha256 and decision_early.at == at(0)
    message_early = next(r for r in early if r.kind == "message:email")
    message_late = next(r for r in late if r.kind == "message:email")
    assert message_early.sha256 != message_late.sha256
    assert early == again  # a re-read of the same moment gives the same records


def test_workflow_records_keeps_its_contract(db: Any) -> None:
    with db.cursor() as cur:
        found = records.workflow_records(
            cur, "sig:1", until=at(60), correlation_keys=["sig:1"], exclude_document_kinds=["evidence_pack"]
        )
    assert "document:evidence_pack" not in {r.kind for r in found}
    assert not any(r.kind.startswith("message:") for r in found)
    assert {r.ref for r in found if r.kind.startswith("event:")} == {"e1"}


def test_ledger_steps_joins_the_workflow_state(db: Any) -> None:
    with db.cursor() as cur:
        steps = records.ledger_steps(cur, dag_ids=["signature_commitment"], since=at(0))
        none = records.ledger_steps(cur, dag_ids=["signature_commitment"], since=at(31))
    assert [(s.workflow_id, s.compensation_action, s.workflow_status) for s in steps] == [
        ("sig:1", "esign.void_envelope", "completed")
    ]
    assert none == []


def test_decisions_since(db: Any) -> None:
    with db.cursor() as cur:
        found = records.decisions_since(cur, at(0))
        later = records.decisions_since(cur, at(21))
    assert [(d.request_id, d.assignees, d.decided_by) for d in found] == [
        ("sig:1:gate", ("manager", "admin"), "manager")
    ]
    assert later == []


def test_aged_rows_counts_rows_older_than_a_moment(db: Any) -> None:
    with db.cursor() as cur:
        assert records.aged_rows(cur, "external_events", "received_at", at(5)) == records.RowAges(3, 3, at(4))
        assert records.aged_rows(cur, "external_events", "received_at", at(4)) == records.RowAges(3, 0, None)
        with pytest.raises(psycopg2.errors.UndefinedTable):
            records.aged_rows(cur, "external_events; DROP TABLE documents", "received_at", at(5))
