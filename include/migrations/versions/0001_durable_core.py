"""Durable-execution core: idempotency ledger, sagas, outbound messages, approvals, documents,
webhook inbox (with NOTIFY), tamper-evident audit log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The channel the external-event trigger LISTENs on; the payload is the correlation key.
NOTIFY_CHANNEL = "ep_external_events"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE idempotency_keys (
            key           text PRIMARY KEY,
            scope         text NOT NULL,
            workflow_id   text,
            request_hash  text NOT NULL,
            status        text NOT NULL CHECK (status IN ('started', 'done')),
            result        jsonb,
            attempts      integer NOT NULL DEFAULT 1,
            created_at    timestamptz NOT NULL DEFAULT now(),
            updated_at    timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE saga_workflows (
            workflow_id         text PRIMARY KEY,
            dag_id              text NOT NULL,
            run_id              text NOT NULL,
            business_key        text NOT NULL,
            status              text NOT NULL CHECK (status IN
                                ('running', 'completed', 'rejected', 'expired', 'failed',
                                 'compensating', 'compensated', 'compensation_failed')),
            reason              text,
            compensation_run_id text,
            created_at          timestamptz NOT NULL DEFAULT now(),
            updated_at          timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX saga_workflows_status ON saga_workflows (status);

        CREATE TABLE saga_steps (
            workflow_id          text NOT NULL REFERENCES saga_workflows (workflow_id),
            step                 text NOT NULL,
            seq                  bigserial NOT NULL,
            idempotency_key      text NOT NULL,
            side_effect          text NOT NULL,
            compensation_action  text,
            compensation_args    jsonb NOT NULL DEFAULT '{}'::jsonb,
            status               text NOT NULL
                                 CHECK (status IN ('done', 'compensated', 'compensation_failed')),
            compensation_result  jsonb,
            compensation_reason  text,
            done_at              timestamptz NOT NULL DEFAULT now(),
            compensated_at       timestamptz,
            PRIMARY KEY (workflow_id, step)
        );

        CREATE TABLE outbound_messages (
            message_id          text PRIMARY KEY,
            workflow_id         text,
            step                text NOT NULL,
            channel             text NOT NULL CHECK (channel IN ('email', 'whatsapp', 'sms')),
            recipient           text NOT NULL,
            template            text NOT NULL,
            subject             text,
            body_sha256         text NOT NULL,
            provider_message_id text,
            status              text NOT NULL CHECK (status IN ('sending', 'sent')),
            created_at          timestamptz NOT NULL DEFAULT now(),
            sent_at             timestamptz
        );

        CREATE TABLE approval_requests (
            request_id   text PRIMARY KEY,
            workflow_id  text NOT NULL,
            stage        text NOT NULL,
            dag_id       text NOT NULL,
            run_id       text NOT NULL,
            task_id      text NOT NULL,
            assignees    text[] NOT NULL DEFAULT '{}',
            subject      text NOT NULL,
            status       text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
            decision     text,
            decided_by   text,
            decided_at   timestamptz,
            comment      text,
            notified_message_id text,
            created_at   timestamptz NOT NULL DEFAULT now(),
            UNIQUE (workflow_id, stage)
        );

        CREATE TABLE documents (
            sha256       text PRIMARY KEY,
            kind         text NOT NULL,
            uri          text NOT NULL,
            size_bytes   bigint NOT NULL,
            workflow_id  text,
            created_at   timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE external_events (
            event_id        text PRIMARY KEY,
            source          text NOT NULL,
            event_type      text NOT NULL,
            correlation_key text NOT NULL,
            payload         jsonb NOT NULL,
            received_at     timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX external_events_correlation ON external_events (correlation_key, received_at);

        CREATE TABLE audit_log (
            id           bigserial PRIMARY KEY,
            at           timestamptz NOT NULL DEFAULT now(),
            actor        text NOT NULL,
            workflow_id  text,
            action       text NOT NULL,
            details      jsonb NOT NULL,
            prev_hash    text NOT NULL,
            hash         text NOT NULL UNIQUE
        );
        """
    )
    # NOTIFY fires at COMMIT, so a listener never sees an event whose row is not yet visible.
    op.execute(
        f"""
        CREATE FUNCTION ep_notify_external_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{NOTIFY_CHANNEL}', NEW.correlation_key);
            RETURN NEW;
        END $$;
        CREATE TRIGGER external_events_notify AFTER INSERT ON external_events
            FOR EACH ROW EXECUTE FUNCTION ep_notify_external_event();
        """
    )
    # Append-only: the hash chain detects edits, this refuses them outright.
    op.execute(
        """
        CREATE FUNCTION ep_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only';
        END $$;
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION ep_audit_log_append_only();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE audit_log, external_events, documents, approval_requests, outbound_messages,
                   saga_steps, saga_workflows, idempotency_keys;
        DROP FUNCTION ep_notify_external_event();
        DROP FUNCTION ep_audit_log_append_only();
        """
    )
