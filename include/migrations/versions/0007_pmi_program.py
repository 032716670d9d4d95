"""Domain tables of pmi_program (post-merger integration): the program, its functions' Day 1, its phase
reviews, and the people a stopped program affected.

Keyed by workflow id (``<dag_id>:<request_id>``) so every write is an upsert on a business key.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE pmi_programs (
            workflow_id          text PRIMARY KEY,
            deal_id              text NOT NULL,
            target_company       text NOT NULL,
            target_company_id    text NOT NULL,
            acquirer_company_id  text NOT NULL,
            plan                 jsonb NOT NULL,
            status               text NOT NULL CHECK (status IN ('planned', 'day1', 'day30', 'day60', 'day90',
                                                                 'closed', 'not_started', 'stopped', 'failed',
                                                                 'rolled_back')),
            day1_at              timestamptz,
            stop_reason          text,
            report_sha256        text,
            closed_at            timestamptz,
            created_at           timestamptz NOT NULL DEFAULT now(),
            updated_at           timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX pmi_programs_deal ON pmi_programs (deal_id);

        CREATE TABLE pmi_functions (
            workflow_id  text NOT NULL REFERENCES pmi_programs (workflow_id),
            function     text NOT NULL CHECK (function IN ('hr', 'finance', 'it', 'legal', 'crm')),
            scope        text NOT NULL,
            status       text NOT NULL CHECK (status IN ('pending', 'running', 'paused', 'done', 'skipped',
                                                         'failed', 'separated')),
            attempts     integer NOT NULL DEFAULT 0,
            last_error   text,
            decided_by   text,
            result       jsonb NOT NULL DEFAULT '{}'::jsonb,
            updated_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workflow_id, function)
        );

        CREATE TABLE pmi_phase_reviews (
            workflow_id  text NOT NULL REFERENCES pmi_programs (workflow_id),
            phase        text NOT NULL CHECK (phase IN ('day30', 'day60', 'day90')),
            round        integer NOT NULL CHECK (round >= 1),
            stage        text NOT NULL,
            due_at       timestamptz NOT NULL,
            checklist    jsonb,
            done_items   integer,
            total_items  integer,
            decision     text CHECK (decision IN ('pass', 'extend', 'stop', 'expired')),
            extend_days  integer CHECK (extend_days BETWEEN 1 AND 90),
            decided_by   text,
            comment      text,
            decided_at   timestamptz,
            PRIMARY KEY (workflow_id, phase, round),
            UNIQUE (workflow_id, stage)
        );

        CREATE TABLE pmi_affected (
            workflow_id  text NOT NULL REFERENCES pmi_programs (workflow_id),
            recipient    text NOT NULL,
            name         text,
            role         text NOT NULL,
            undone       text[] NOT NULL DEFAULT '{}',
            told_at      timestamptz,
            PRIMARY KEY (workflow_id, recipient)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE pmi_affected, pmi_phase_reviews, pmi_functions, pmi_programs")
