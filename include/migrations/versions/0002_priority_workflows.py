"""Domain tables of the three priority workflows: partner_approval, dd_room, signature_commitment.

Keyed by workflow id (``<dag_id>:<request_id>``) so every write is an upsert on a business key.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE partner_approvals (
            workflow_id   text PRIMARY KEY,
            partner_id    text NOT NULL,
            partner_name  text,
            partner_email text,
            profile       jsonb NOT NULL,
            fit_score     integer,
            fit_band      text,
            fit_factors   jsonb,
            stage         text NOT NULL,
            round         integer NOT NULL DEFAULT 0,
            status        text NOT NULL CHECK (status IN ('in_review', 'negotiating', 'activated', 'rejected',
                                                          'expired', 'declined')),
            updated_at    timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX partner_approvals_partner ON partner_approvals (partner_id);

        CREATE TABLE term_sheets (
            workflow_id   text NOT NULL,
            revision      integer NOT NULL,
            sha256        text NOT NULL,
            terms         jsonb NOT NULL,
            terms_sha256  text NOT NULL,
            status        text NOT NULL CHECK (status IN ('drafted', 'sent', 'accepted', 'retracted')),
            updated_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workflow_id, revision)
        );

        CREATE TABLE negotiation_rounds (
            workflow_id   text NOT NULL,
            round         integer NOT NULL,
            event_id      text,
            response      text NOT NULL,
            payload       jsonb NOT NULL,
            next_step     text NOT NULL,
            recorded_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workflow_id, round)
        );

        CREATE TABLE dd_rooms (
            workflow_id        text PRIMARY KEY,
            deal_id            text NOT NULL,
            target_company     text NOT NULL,
            base_valuation_usd numeric NOT NULL,
            status             text NOT NULL CHECK (status IN ('open', 'in_review', 'closing', 'archived')),
            recommendation     text,
            decision           text,
            decided_by         text,
            updated_at         timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE dd_workstreams (
            workflow_id   text NOT NULL,
            workstream    text NOT NULL,
            lead          text NOT NULL,
            status        text NOT NULL CHECK (status IN ('assigned', 'collected', 'analyzed', 'signed_off',
                                                          'not_signed_off')),
            documents     integer NOT NULL DEFAULT 0,
            findings      integer NOT NULL DEFAULT 0,
            updated_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workflow_id, workstream)
        );

        CREATE TABLE dd_findings (
            workflow_id          text NOT NULL,
            workstream           text NOT NULL,
            code                 text NOT NULL,
            title                text NOT NULL,
            severity             integer NOT NULL CHECK (severity BETWEEN 1 AND 5),
            likelihood           integer NOT NULL CHECK (likelihood BETWEEN 1 AND 5),
            evidence             text NOT NULL,
            valuation_impact_pct double precision NOT NULL,
            PRIMARY KEY (workflow_id, code)
        );

        CREATE TABLE risk_register (
            workflow_id   text NOT NULL,
            risk_id       text NOT NULL,
            workstream    text NOT NULL,
            title         text NOT NULL,
            severity      integer NOT NULL CHECK (severity BETWEEN 1 AND 5),
            likelihood    integer NOT NULL CHECK (likelihood BETWEEN 1 AND 5),
            score         integer NOT NULL,
            rating        text NOT NULL CHECK (rating IN ('critical', 'high', 'medium', 'low')),
            mitigation    text NOT NULL,
            PRIMARY KEY (workflow_id, risk_id)
        );

        CREATE TABLE valuation_impacts (
            workflow_id            text PRIMARY KEY,
            base_valuation_usd     numeric NOT NULL,
            adjusted_valuation_usd numeric NOT NULL,
            total_adjustment_pct   double precision NOT NULL,
            per_workstream_pct     jsonb NOT NULL,
            explanation            text NOT NULL
        );

        CREATE TABLE lessons_learned (
            workflow_id   text PRIMARY KEY,
            record        jsonb NOT NULL,
            recorded_at   timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE deals (
            deal_id       text PRIMARY KEY,
            status        text NOT NULL,
            status_reason text,
            workflow_id   text,
            updated_at    timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE signature_requests (
            workflow_id   text PRIMARY KEY,
            deal_id       text NOT NULL,
            envelope_id   text,
            terms         jsonb NOT NULL,
            terms_sha256  text NOT NULL,
            approved_by   text NOT NULL,
            signer_email  text NOT NULL,
            status        text NOT NULL CHECK (status IN ('approved', 'sent', 'signed', 'declined', 'expired',
                                                          'voided')),
            updated_at    timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE evidence_packs (
            workflow_id      text PRIMARY KEY,
            deal_id          text NOT NULL,
            manifest         jsonb NOT NULL,
            manifest_sha256  text NOT NULL,
            document_sha256  text NOT NULL,
            created_at       timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE evidence_packs, signature_requests, deals, lessons_learned, valuation_impacts,
                   risk_register, dd_findings, dd_workstreams, dd_rooms, negotiation_rounds, term_sheets,
                   partner_approvals;
        """
    )
