"""The audit log: append-only (a trigger refuses edits) and hash-chained (verify_chain finds edits made
behind the trigger's back). Real test business database; the chain is shared, so every test leaves it
valid."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime

import psycopg2
import psycopg2.extensions
import pytest

from execution_plane.saga import audit


@pytest.fixture
def tx_conn(business_db_url):
    """A connection with explicit transactions (the way the ledger uses them)."""
    conn = psycopg2.connect(business_db_url)
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


def append(conn, workflow_id: str, action: str = "test.event", **details: object) -> int:
    with conn, conn.cursor() as cur:
        digest = audit.append(cur, actor="tester", workflow_id=workflow_id, action=action, details=details)
        cur.execute("SELECT id FROM audit_log WHERE hash = %s", (digest,))
        return int(cur.fetchone()[0])


def breaks_of(conn) -> list[audit.ChainBreak]:
    with conn, conn.cursor() as cur:
        return audit.verify_chain(cur)


class TestChain:
    def test_rows_link_to_their_predecessor(self, tx_conn):
        workflow = f"audit_test:{uuid.uuid4().hex}"
        first = append(tx_conn, workflow, n=1)
        second = append(tx_conn, workflow, n=2, nested={"b": [1, 2], "a": "ü"})
        with tx_conn, tx_conn.cursor() as cur:
            cur.execute(
                "SELECT id, prev_hash, hash FROM audit_log WHERE id IN (%s, %s) ORDER BY id", (first, second)
            )
            (_, _, first_hash), (_, prev_of_second, _) = cur.fetchall()
            cur.execute("SELECT hash FROM audit_log WHERE id < %s ORDER BY id DESC LIMIT 1", (second,))
            assert prev_of_second == cur.fetchone()[0]
        if second == first + 1:
            assert prev_of_second == first_hash
        assert not {b.row_id for b in breaks_of(tx_conn)} & {first, second}

    def test_chain_verifies(self, tx_conn):
        append(tx_conn, f"audit_test:{uuid.uuid4().hex}", value=3.5, when=datetime(2026, 1, 2, tzinfo=UTC))
        assert breaks_of(tx_conn) == []

    def test_concurrent_appends_keep_the_chain_linear(self, business_db_url):
        workflow = f"audit_test:{uuid.uuid4().hex}"
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            conn = psycopg2.connect(business_db_url)
            try:
                for i in range(5):
                    append(conn, workflow, n=n, i=i)
            except BaseException as exc:
                errors.append(exc)
            finally:
                conn.close()

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        conn = psycopg2.connect(business_db_url)
        try:
            assert breaks_of(conn) == []
            with conn, conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM audit_log WHERE workflow_id = %s", (workflow,))
                assert cur.fetchone()[0] == 30
        finally:
            conn.close()

    def test_numbers_jsonb_rewrites_still_verify(self, tx_conn):
        # jsonb stores numbers as numeric: 1e20 comes back as an integer, -0.0 as 0.0.
        row_id = append(tx_conn, f"audit_test:{uuid.uuid4().hex}", big=1e20, zero=-0.0, tiny=1.5e-7)
        assert row_id not in {b.row_id for b in breaks_of(tx_conn)}

    def test_rolled_back_append_leaves_no_row(self, tx_conn):
        workflow = f"audit_test:{uuid.uuid4().hex}"
        with tx_conn.cursor() as cur:
            audit.append(cur, actor="tester", workflow_id=workflow, action="test.event", details={})
        tx_conn.rollback()
        with tx_conn, tx_conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM audit_log WHERE workflow_id = %s", (workflow,))
            assert cur.fetchone()[0] == 0
        assert breaks_of(tx_conn) == []


class TestAppendOnly:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE audit_log SET details = '{}'::jsonb WHERE id = %s",
            "DELETE FROM audit_log WHERE id = %s",
        ],
    )
    def test_trigger_refuses_edits(self, tx_conn, statement):
        row_id = append(tx_conn, f"audit_test:{uuid.uuid4().hex}", n=1)
        with pytest.raises(psycopg2.Error, match="append-only"), tx_conn, tx_conn.cursor() as cur:
            cur.execute(statement, (row_id,))
        with tx_conn, tx_conn.cursor() as cur:
            cur.execute("SELECT details FROM audit_log WHERE id = %s", (row_id,))
            assert cur.fetchone()[0] == {"n": 1}

    def test_tampering_behind_the_trigger_is_detected(self, tx_conn):
        row_id = append(tx_conn, f"audit_test:{uuid.uuid4().hex}", amount=100)
        with tx_conn, tx_conn.cursor() as cur:
            cur.execute("SELECT details FROM audit_log WHERE id = %s", (row_id,))
            original = cur.fetchone()[0]
            before = {b.row_id for b in audit.verify_chain(cur)}
        assert row_id not in before
        # One transaction: other sessions never see the disabled trigger nor the edited row (they wait on
        # the table lock for these few milliseconds instead).
        cur = tx_conn.cursor()
        try:
            cur.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
            cur.execute(
                "UPDATE audit_log SET details = %s::jsonb WHERE id = %s", (json.dumps({"amount": 1}), row_id)
            )
            breaks = audit.verify_chain(cur)
            assert [(b.row_id, b.reason) for b in breaks if b.row_id not in before] == [
                (row_id, "row content does not match its hash")
            ]
        finally:
            if tx_conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INERROR:
                tx_conn.rollback()
            else:
                cur.execute(
                    "UPDATE audit_log SET details = %s::jsonb WHERE id = %s", (json.dumps(original), row_id)
                )
                cur.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")
                tx_conn.commit()
            cur.close()
        with tx_conn, tx_conn.cursor() as cur:
            assert {b.row_id for b in audit.verify_chain(cur)} == before
            cur.execute("SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_log_no_update'")
            assert cur.fetchone()[0] == "O"
            cur.execute("SELECT details FROM audit_log WHERE id = %s", (row_id,))
            assert cur.fetchone()[0] == {"amount": 100}


def test_format_at():
    assert audit.format_at(datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC)) == "2026-03-04T05:06:07.000089Z"
