"""Approval reminders and escalation (issue 16, part 2): what the reminder scan needs of an open approval.

``approval_requests`` gains:
- ``expires_at``: when Airflow applies the gate's default answer (the HITL ``response_timeout`` of the try
  that is waiting); the reminders are placed in the window from ``created_at`` to it;
- ``remind_to``: the approver's address the reminders go to (the gate's own notification address, else
  the assignee's);
- ``link``: the deep link to the request's entry on Airflow's Required Actions page, carried by every
  message about it.

Requests opened before this revision have none of them and are never reminded (their gates were asked
before reminders existed; they still expire as before).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE approval_requests
            ADD COLUMN expires_at timestamptz,
            ADD COLUMN remind_to  text,
            ADD COLUMN link       text;
        -- The reminder scan reads the open approvals with an expiry, every few minutes.
        CREATE INDEX approval_requests_open_expiry ON approval_requests (expires_at)
            WHERE status = 'pending' AND expires_at IS NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX approval_requests_open_expiry;
        ALTER TABLE approval_requests DROP COLUMN link, DROP COLUMN remind_to, DROP COLUMN expires_at;
        """
    )
