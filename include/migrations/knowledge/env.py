"""Alembic environment of the knowledge store (Airflow connection ``knowledge_db``): a Postgres database with
the pgvector extension, holding knowledge retrieval's documents and embedded chunks.

It is its own database with its own history because it may live on another server than the business
database: the one that has pgvector (``devtools.knowledge`` chooses it for `make run` and `make test`).
The URL comes from the Alembic config (set by devtools) or ``EP_KNOWLEDGE_DB_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

url = context.config.get_main_option("sqlalchemy.url") or os.environ["EP_KNOWLEDGE_DB_URL"]
engine = create_engine(url)
try:
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
finally:
    engine.dispose()  # also when a migration refuses: no pooled connection left holding the database
