"""Alembic environment for the business database (connection id ``execution_plane_db``).

The URL comes from the Alembic config (set by devtools) or ``EP_BUSINESS_DB_URL``; raw SQL
migrations, no ORM models: the toolkit talks SQL directly.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

url = context.config.get_main_option("sqlalchemy.url") or os.environ["EP_BUSINESS_DB_URL"]
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
