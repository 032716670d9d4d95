"""Alembic migrations of the business database; `devtools.migrate` runs them."""
