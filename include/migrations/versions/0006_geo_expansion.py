"""Domain tables of geo_expansion_launch: the launch, its local partners' contracts, what it provisioned and
its canary rounds.

Keyed by workflow id (``geo_expansion_launch:<request_id>``) and a business key beside it (partner id,
resource kind, round number), so every write is an upsert or an insert-once.

- ``geo_launches``: one row per launch: market, region, flag, plan and readiness report, the regulator's
  filing and decision, the share of users the flag reaches now, status and stage.
- ``geo_launch_partners``: each local partner's contract, the ``signature_commitment`` child run that got it
  signed (or not) and its outcome.
- ``geo_launch_resources``: what the infrastructure provider provisioned for the launch (region, tenant,
  payment account, messaging number) and whether compensation removed it.
- ``geo_rollout_rounds``: each canary round: its share and metrics window, the figures and the guardrails'
  verdict, the launch lead's scale decision.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE geo_launches (
            workflow_id          text PRIMARY KEY,
            market               text NOT NULL CHECK (market ~ '^[A-Z]{2}$'),
            market_name          text NOT NULL,
            region               text NOT NULL,
            currency             text NOT NULL,
            flag_key             text NOT NULL,
            plan                 jsonb NOT NULL,
            readiness            jsonb NOT NULL,
            filing_id            text,
            filing_reference     text,
            regulator_decision   text,
            regulator_conditions jsonb,
            share_pct            integer NOT NULL DEFAULT 0 CHECK (share_pct BETWEEN 0 AND 100),
            stage                text NOT NULL,
            status               text NOT NULL CHECK (status IN (
                                     'planning', 'not_ready', 'regulatory_review', 'contracting',
                                     'provisioning', 'canary', 'rolling_out', 'launched', 'refused',
                                     'expired', 'declined', 'rolled_back', 'failed')),
            reason               text,
            launched_at          timestamptz,
            created_at           timestamptz NOT NULL DEFAULT now(),
            updated_at           timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX geo_launches_market ON geo_launches (market, status);

        CREATE TABLE geo_launch_partners (
            workflow_id       text NOT NULL,
            partner_id        text NOT NULL,
            deal_id           text NOT NULL,
            name              text NOT NULL,
            child_workflow_id text,
            child_run_id      text,
            status            text NOT NULL CHECK (status IN ('pending', 'approved', 'started', 'signed',
                                                              'declined', 'expired', 'timed_out', 'failed')),
            outcome_reason    text,
            updated_at        timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workflow_id, partner_id)
        );

        CREATE TABLE geo_launch_resources (
            workflow_id  text NOT NULL,
            kind         text NOT NULL CHECK (kind IN ('region', 'tenant', 'payment_account',
                                                      'messaging_number')),
            resource_id  text NOT NULL,
            status       text NOT NULL CHECK (status IN ('provisioning', 'ready', 'active', 'failed',
                                                         'removed')),
            details      jsonb NOT NULL DEFAULT '{}'::jsonb,
            updated_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workflow_id, kind)
        );

        CREATE TABLE geo_rollout_rounds (
            workflow_id  text NOT NULL,
            round        integer NOT NULL CHECK (round >= 1),
            share_pct    integer NOT NULL CHECK (share_pct BETWEEN 1 AND 100),
            window_start timestamptz NOT NULL,
            window_end   timestamptz NOT NULL,
            figures      jsonb,
            verdict      text CHECK (verdict IN ('pass', 'breach', 'inconclusive')),
            summary      text,
            decision     text CHECK (decision IN ('Widen', 'Hold', 'Roll back')),
            decided_by   text,
            comment      text,
            updated_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workflow_id, round)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE geo_rollout_rounds, geo_launch_resources, geo_launch_partners, geo_launches")
