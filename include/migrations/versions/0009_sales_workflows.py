"""Domain tables of three sales workflows of issue 14: lead_qualification (one qualification per lead, the
per-company enrichment cache), proposal_generation (one proposal per workflow) and affiliate_onboarding (one
application per workflow).

Keyed by business key (lead id, workflow id ``<dag_id>:<request_id>``, company domain) so every write is an
upsert or an insert-once.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE company_enrichments (
            domain         text PRIMARY KEY,
            company_id     text,
            firmographics  jsonb,
            financials     jsonb,
            missing        text[] NOT NULL DEFAULT '{}',
            fetched_at     timestamptz NOT NULL DEFAULT now(),
            expires_at     timestamptz NOT NULL
        );

        CREATE TABLE lead_qualifications (
            lead_id            text PRIMARY KEY,
            workflow_id        text NOT NULL,
            status             text NOT NULL CHECK (status IN ('captured', 'enriched', 'scored', 'routed',
                                                               'handed_over')),
            lead               jsonb NOT NULL,
            company_domain     text,
            enrichment         jsonb,
            enrichment_missing text[] NOT NULL DEFAULT '{}',
            score              integer CHECK (score BETWEEN 0 AND 100),
            band               text CHECK (band IN ('hot', 'warm', 'cold')),
            score_degraded     boolean,
            owner_id           text,
            owner_email        text,
            routing            jsonb,
            crm_updated_at     timestamptz,
            owner_notified_at  timestamptz,
            created_at         timestamptz NOT NULL DEFAULT now(),
            updated_at         timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX lead_qualifications_workflow ON lead_qualifications (workflow_id);
        CREATE INDEX lead_qualifications_owner ON lead_qualifications (owner_id) WHERE owner_id IS NOT NULL;

        CREATE TABLE proposals (
            workflow_id      text PRIMARY KEY,
            deal_id          text NOT NULL,
            owner_email      text,
            currency         text NOT NULL,
            language         text NOT NULL,
            items            jsonb NOT NULL,
            context_status   text CHECK (context_status IN ('retrieved', 'empty', 'unavailable')),
            context          jsonb,
            draft            jsonb,
            quote            jsonb,
            list_total       numeric(16, 2),
            net_total        numeric(16, 2),
            discount_pct     numeric(5, 2),
            approval_status  text CHECK (approval_status IN ('not_needed', 'pending', 'approved', 'rejected',
                                                             'expired')),
            approved_by      text,
            document_sha256  text,
            status           text NOT NULL CHECK (status IN ('drafting', 'drafted', 'priced', 'rendered',
                                                             'sent', 'rejected', 'expired', 'failed')),
            reason           text,
            created_at       timestamptz NOT NULL DEFAULT now(),
            updated_at       timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX proposals_deal ON proposals (deal_id);

        CREATE TABLE affiliate_applications (
            workflow_id        text PRIMARY KEY,
            application_id     text NOT NULL,
            applicant_name     text NOT NULL,
            email              text NOT NULL,
            company            text,
            website_domain     text,
            country            text,
            application        jsonb NOT NULL,
            evaluation         jsonb,
            score              integer CHECK (score BETWEEN 0 AND 100),
            decision           text CHECK (decision IN ('approve', 'review', 'reject')),
            decided_by         text,
            status             text NOT NULL CHECK (status IN ('received', 'evaluated', 'approved',
                                                               'provisioned', 'active', 'rejected', 'expired',
                                                               'failed', 'deprovisioned', 'closed')),
            account_id         text,
            link_set_id        text,
            payout_profile_id  text,
            reason             text,
            created_at         timestamptz NOT NULL DEFAULT now(),
            updated_at         timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX affiliate_applications_email ON affiliate_applications (lower(email));
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE affiliate_applications, proposals, lead_qualifications, company_enrichments")
