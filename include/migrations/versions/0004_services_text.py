"""Short-lived services (issue 12, part B): the stored answers of message classification and dialect
detection. Knowledge retrieval's chunks live in the knowledge store (``include/migrations/knowledge``), a
Postgres with pgvector that may be another server than this one.

Both tables are keyed by the message (the caller's id, or ``sha256:<hash of the text>`` without one), and a
write is an upsert on that key: the same request twice is one row, unchanged; the same message classified
again by a newer model is updated in place; another text under a used id is refused by the service.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE message_classifications (
            message_key     text PRIMARY KEY,
            text_sha256     text NOT NULL,
            channel         text NOT NULL CHECK (channel IN ('email', 'whatsapp', 'sms', 'other')),
            language        text NOT NULL,
            intent          text NOT NULL,
            confidence      double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
            needs_review    boolean NOT NULL,
            tags            text[] NOT NULL,
            result          jsonb NOT NULL,  -- the whole answer (scores, cues), returned again as stored
            model_version   text NOT NULL,
            classified_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX message_classifications_intent ON message_classifications (intent, classified_at);
        CREATE INDEX message_classifications_review ON message_classifications (classified_at)
            WHERE needs_review;

        CREATE TABLE dialect_detections (
            text_key        text PRIMARY KEY,
            text_sha256     text NOT NULL,
            dialect         text NOT NULL CHECK (dialect IN ('gulf', 'egyptian', 'levantine', 'maghrebi',
                                                             'iraqi', 'msa', 'not_arabic', 'too_short')),
            confidence      double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
            result          jsonb NOT NULL,  -- the whole answer (scores, markers), returned again as stored
            model_version   text NOT NULL,
            detected_at     timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX dialect_detections_dialect ON dialect_detections (dialect, detected_at);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE dialect_detections, message_classifications;")
