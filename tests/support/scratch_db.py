"""A scratch business database: created, migrated to the head revision, dropped after use.

For tests that must control every row a whole-table read sees (a compliance control, a retention check, a
broken audit chain) without touching the shared business database other tests use at the same time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def scratch_business_db(business_db_url: str, prefix: str = "ep_scratch") -> Iterator[str]:
    """Yields the URL of a new database migrated to head; drops it (forcing other sessions out) after."""
    from alembic import command
    from alembic.config import Config

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(business_db_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    url = business_db_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(REPO / "include" / "migrations"))
        cfg.set_main_option("sqlalchemy.url", url.replace("postgresql://", "postgresql+psycopg2://", 1))
        command.upgrade(cfg, "head")
        yield url
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
