"""affiliate_onboarding: the applicant's id across applications (``affiliate_id``, derived from the email),
so the trust score finds an affiliate's earlier onboarding workflows by an index. (The duplicate check, an
open application on the same email, uses 0009's index on ``lower(email)``.) No rows had one before: the
workflow that writes the table starts with this revision.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE affiliate_applications ADD COLUMN affiliate_id text;
        CREATE INDEX affiliate_applications_affiliate ON affiliate_applications (affiliate_id);
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE affiliate_applications DROP COLUMN affiliate_id")
