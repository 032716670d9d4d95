"""Runs the CRM asked for, stored before they are started: the ingress answers once the request is durable.

A delivery of the CRM's start webhook is validated, then stored here and in the inbox in one transaction,
and answered (202); the API server's starter (``execution_plane.webhooks.starter``) starts the Airflow run
from the stored row. The run id comes from the event id, so a redelivery, two starters or a starter that
died mid-start never start a second run. ``next_attempt_at`` is the claim: a starter moves it forward before
it starts the run, so a row whose starter died is picked up again when it passes.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE run_starts (
            event_id         text PRIMARY KEY,
            dag_id           text NOT NULL,
            run_id           text NOT NULL,
            conf             jsonb NOT NULL,
            received_at      timestamptz NOT NULL DEFAULT now(),
            attempts         integer NOT NULL DEFAULT 0,
            next_attempt_at  timestamptz NOT NULL DEFAULT now(),
            last_error       text,
            outcome          text CHECK (outcome IN ('started', 'duplicate', 'refused')),
            ended_at         timestamptz
        );
        CREATE INDEX run_starts_pending ON run_starts (next_attempt_at) WHERE outcome IS NULL;
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE run_starts")
