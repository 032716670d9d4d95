"""Domain tables of two sales workflows of issue 14: outreach_sequence (one sequence per workflow, one row per
message of it: its planned moment, then how it was sent or why it was not) and meeting_booking (one
negotiation per workflow, one row per round of proposed times and the answer to it).

Keyed by workflow id (``<dag_id>:<request_id>``) and each row's business key (message number, round) so
every write is an upsert or an insert-once.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE outreach_sequences (
            workflow_id          text PRIMARY KEY,
            contact_id           text NOT NULL,
            campaign             text NOT NULL,
            language             text NOT NULL,
            dialect              text,
            country              text NOT NULL,
            time_zone            text NOT NULL,
            channels             text[] NOT NULL,
            owner_email          text,
            max_messages         integer NOT NULL CHECK (max_messages BETWEEN 1 AND 10),
            status               text NOT NULL CHECK (status IN ('active', 'handed_over', 'meeting',
                                                                 'no_reply', 'stopped', 'undeliverable',
                                                                 'failed')),
            outcome              text,
            reason               text,
            messages_sent        integer NOT NULL DEFAULT 0,
            reply                jsonb,
            meeting_workflow_id  text,
            ended_at             timestamptz,
            created_at           timestamptz NOT NULL DEFAULT now(),
            updated_at           timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX outreach_sequences_contact ON outreach_sequences (contact_id);

        CREATE TABLE outreach_sends (
            workflow_id          text NOT NULL REFERENCES outreach_sequences (workflow_id),
            step_no              integer NOT NULL CHECK (step_no BETWEEN 1 AND 10),
            template             text NOT NULL,
            send_at              timestamptz NOT NULL,
            status               text NOT NULL CHECK (status IN ('scheduled', 'sent', 'cancelled',
                                                                 'undeliverable')),
            channel              text,
            message_id           text,
            provider_message_id  text,
            local_time           text,
            consent              jsonb,
            attempts             jsonb NOT NULL DEFAULT '[]',
            body_sha256          text,
            sent_at              timestamptz,
            cancelled_at         timestamptz,
            cancel_reason        text,
            created_at           timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workflow_id, step_no)
        );
        CREATE INDEX outreach_sends_scheduled ON outreach_sends (send_at) WHERE status = 'scheduled';

        CREATE TABLE meeting_bookings (
            workflow_id          text PRIMARY KEY,
            organizer            text NOT NULL,
            organizer_email      text NOT NULL,
            attendee_name        text NOT NULL,
            attendee_email       text NOT NULL,
            attendee_time_zone   text NOT NULL,
            channel              text NOT NULL,
            address              text NOT NULL,
            language             text NOT NULL,
            title                text NOT NULL,
            parent_workflow_id   text,
            status               text NOT NULL CHECK (status IN ('negotiating', 'agreed', 'booked', 'invited',
                                                                 'declined', 'expired', 'no_agreement',
                                                                 'failed', 'cancelled')),
            agreed_slot          timestamptz,
            booking_id           text,
            reason               text,
            created_at           timestamptz NOT NULL DEFAULT now(),
            updated_at           timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE meeting_rounds (
            workflow_id          text NOT NULL REFERENCES meeting_bookings (workflow_id),
            round                integer NOT NULL CHECK (round BETWEEN 1 AND 10),
            options              jsonb NOT NULL,
            respond_by           timestamptz NOT NULL,
            message_id           text,
            reply_event_id       text,
            reply_received_at    timestamptz,
            reply                jsonb,
            outcome              text CHECK (outcome IN ('agreed', 'counter_unavailable', 'unclear',
                                                         'declined', 'expired', 'slot_taken',
                                                         'no_agreement')),
            agreed_slot          timestamptz,
            created_at           timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workflow_id, round)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE meeting_rounds, meeting_bookings, outreach_sends, outreach_sequences")
