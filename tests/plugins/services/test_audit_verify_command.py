"""`python -m execution_plane.services.audit verify`: an intact chain, then a tampered or removed row reported
as the first broken link. Each case on a scratch database migrated to revision 0003 (a tampered chain in the
shared business database would break every later check)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from execution_plane.services.audit import append_event
from include.services.audit import AuditEvent

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def scratch_db(business_db_url: str) -> Iterator[str]:
    from alembic import command
    from alembic.config import Config

    name = f"ep_audit_verify_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(business_db_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    url = business_db_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(REPO / "include" / "migrations"))
        cfg.set_main_option("sqlalchemy.url", url.replace("postgresql://", "postgresql+psycopg2://", 1))
        command.upgrade(cfg, "0003")
        yield url
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def write_events(url: str, n: int) -> None:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            for i in range(n):
                event = AuditEvent(
                    event_id=f"ev-{i}", component="tests", actor="a", action="x.done", details={"amount": i}
                )
                append_event(cur, event)
    finally:
        conn.close()


def tamper(url: str, sql: str) -> None:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
            cur.execute("ALTER TABLE audit_events DROP CONSTRAINT audit_events_audit_id_fkey")
            cur.execute(sql)
            cur.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")
    finally:
        conn.close()


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins")])}
    return subprocess.run(
        [sys.executable, "-m", "execution_plane.services.audit", "verify", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_intact_chain(scratch_db: str) -> None:
    write_events(scratch_db, 4)
    result = verify("--db-url", scratch_db)
    assert (result.returncode, result.stdout.strip()) == (0, "audit chain intact: 4 rows"), result.stderr


@pytest.mark.parametrize(
    ("sql", "first", "reason"),
    [
        (
            "UPDATE audit_log SET details = jsonb_set(details, '{details,amount}', '999') WHERE id = 2",
            2,
            "row content does not match its hash",
        ),
        (
            "UPDATE audit_log SET actor = 'someone else' WHERE id = 3",
            3,
            "row content does not match its hash",
        ),
        ("DELETE FROM audit_log WHERE id = 2", 3, "prev_hash does not match the previous row"),
    ],
    ids=["details-edited", "actor-edited", "row-removed"],
)
def test_a_tampered_chain_reports_its_first_broken_link(
    scratch_db: str, sql: str, first: int, reason: str
) -> None:
    write_events(scratch_db, 4)
    tamper(scratch_db, sql)
    result = verify("--db-url", scratch_db)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith(
        f"audit chain BROKEN: first broken link at audit_log id {first}: {reason}"
    )


def test_by_default_it_reads_the_airflow_connection(business_db: Any) -> None:
    """The profile's business database (AIRFLOW_CONN_EXECUTION_PLANE_DB in the tests' environment)."""
    result = verify()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("audit chain intact: ")
