"""Waits on outside events, indexed by correlation key, so the ingress can end a waiting task itself.

An ``ExternalEventSensor`` that ends its task in the triggerer (``end_task``) registers its wait here just
before it defers: the Airflow task instance's id, where its outcome goes, and the filter its trigger uses.
When the ingress stores an event, it looks up the waits of that correlation key and ends each one's task
instance at once (``execution_plane.webhooks.resume``) instead of waiting for the triggerer's hand-over;
the trigger stays the fallback. A row is only a hint: the task instance's state in Airflow decides.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE event_waits (
            ti_id            uuid PRIMARY KEY,
            dag_id           text NOT NULL,
            run_id           text NOT NULL,
            task_id          text NOT NULL,
            map_index        integer NOT NULL DEFAULT -1,
            correlation_key  text NOT NULL,
            event_types      text[] NOT NULL CHECK (cardinality(event_types) > 0),
            after_at         timestamptz,
            until_at         timestamptz,
            xcom_key         text NOT NULL,
            registered_at    timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX event_waits_correlation_key ON event_waits (correlation_key);
        CREATE INDEX event_waits_until_at ON event_waits (until_at);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE event_waits")
