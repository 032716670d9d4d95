"""Short-lived services (issue 12, part A): lead scores, trust scores, audit event ids, outside-system calls,
and the indexes the dashboard's queries need.

Every write of the services is an upsert or an insert-once on a business key:
- ``lead_scores``: one row per CRM lead (``lead_key``); re-scoring the same input changes nothing.
- ``trust_scores``: one row per partner/affiliate, with the rules version that computed it and a revision
  that grows only when the result changes.
- ``audit_events``: the event id of every audit event written through the audit service, beside the
  ``audit_log`` row (the toolkit's hash chain) it became: a redelivered event is recognised, never chained
  twice.
- ``outside_calls``: one row per call the services and the health check made to an outside system (ok or
  not, latency): what the dashboard's error rates are computed from.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE lead_scores (
            lead_key        text PRIMARY KEY,
            stage           text NOT NULL,
            score           integer NOT NULL CHECK (score BETWEEN 0 AND 100),
            band            text NOT NULL CHECK (band IN ('hot', 'warm', 'cold')),
            factors         jsonb NOT NULL,
            degraded        boolean NOT NULL,
            degraded_reason text,
            llm_reference   text,
            rules_version   text NOT NULL,
            input_sha256    text NOT NULL,
            scored_at       timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX lead_scores_stage_band ON lead_scores (stage, band);

        CREATE TABLE trust_scores (
            subject_type    text NOT NULL CHECK (subject_type IN ('partner', 'affiliate')),
            subject_id      text NOT NULL,
            score           integer NOT NULL CHECK (score BETWEEN 0 AND 100),
            tier            text NOT NULL CHECK (tier IN ('trusted', 'standard', 'watch', 'restricted')),
            factors         jsonb NOT NULL,
            rules_version   text NOT NULL,
            revision        integer NOT NULL DEFAULT 1,
            input_sha256    text NOT NULL,
            computed_at     timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (subject_type, subject_id)
        );

        CREATE TABLE audit_events (
            event_id        text PRIMARY KEY,
            component       text NOT NULL,
            request_sha256  text NOT NULL,
            audit_id        bigint REFERENCES audit_log (id),
            hash            text,
            recorded_at     timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE outside_calls (
            id              bigserial PRIMARY KEY,
            system          text NOT NULL,
            source          text NOT NULL,
            ok              boolean NOT NULL,
            latency_ms      double precision NOT NULL,
            detail          text,
            at              timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX outside_calls_at ON outside_calls (at) INCLUDE (system, ok);

        -- Dashboard: workflows by type and status, compensations in a window, pending approvals by age.
        CREATE INDEX saga_workflows_dag_status ON saga_workflows (dag_id, status);
        CREATE INDEX saga_workflows_status_updated ON saga_workflows (status, updated_at);
        CREATE INDEX approval_requests_pending ON approval_requests (created_at)
            INCLUDE (dag_id, stage, assignees) WHERE status = 'pending';
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX approval_requests_pending, saga_workflows_status_updated, saga_workflows_dag_status;
        DROP TABLE outside_calls, audit_events, trust_scores, lead_scores;
        """
    )
