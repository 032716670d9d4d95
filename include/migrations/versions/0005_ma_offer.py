"""Domain tables of ma_offer (the M&A offer and negotiation).

Keyed by workflow id (``ma_offer:<request_id>``) and the business key of each row (version, review round
and reviewer, negotiation round), so every write is an upsert or an insert-once.

- ``ma_offers``: one row per offer workflow: the deal, the target, the basis the price came from, where the
  offer stands (``status``/``stage``), the price the board last approved, the deal room, the filing and the
  signing child.
- ``ma_offer_versions``: each version of the terms (prepared, revised after reviews, countered), its offer
  letter (sha256 in ``documents``) and what became of it.
- ``ma_offer_reviews``: each review request to counsel and to the financial advisors, per round, and its
  answer.
- ``ma_regulatory_filings``: the filing with the regulator's portal and its decision.
- ``ma_target_responses``: the target's answer in each negotiation round and where it led.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE ma_offers (
            workflow_id          text PRIMARY KEY,
            deal_id              text NOT NULL,
            target_company       text NOT NULL,
            target_contact_email text NOT NULL,
            basis                jsonb NOT NULL,
            status               text NOT NULL CHECK (status IN ('preparing', 'in_review', 'board_review',
                                     'offered', 'filed', 'negotiating', 'signing', 'signed', 'rejected',
                                     'expired', 'failed', 'withdrawn')),
            stage                text NOT NULL,
            version              integer NOT NULL DEFAULT 0,
            board_price_usd      bigint,
            agreed_price_usd     bigint,
            room_id              text,
            child_workflow_id    text,
            reason               text,
            updated_at           timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ma_offers_deal ON ma_offers (deal_id);

        CREATE TABLE ma_offer_versions (
            workflow_id      text NOT NULL,
            version          integer NOT NULL,
            source           text NOT NULL CHECK (source IN ('prepared', 'reviews', 'counter')),
            price_usd        bigint NOT NULL,
            terms            jsonb NOT NULL,
            terms_sha256     text NOT NULL,
            document_sha256  text NOT NULL,
            changes          jsonb NOT NULL DEFAULT '[]'::jsonb,
            status           text NOT NULL CHECK (status IN ('drafted', 'approved', 'sent', 'superseded',
                                                             'agreed', 'withdrawn')),
            created_at       timestamptz NOT NULL DEFAULT now(),
            updated_at       timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workflow_id, version)
        );

        CREATE TABLE ma_offer_reviews (
            workflow_id  text NOT NULL,
            round        integer NOT NULL,
            reviewer     text NOT NULL CHECK (reviewer IN ('counsel', 'advisor')),
            version      integer NOT NULL,
            review_id    text NOT NULL,
            status       text NOT NULL CHECK (status IN ('requested', 'opinion_issued', 'changes_requested',
                                                         'timed_out', 'cancelled')),
            summary      text,
            changes      jsonb NOT NULL DEFAULT '[]'::jsonb,
            details      jsonb NOT NULL DEFAULT '{}'::jsonb,
            event_id     text,
            updated_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workflow_id, round, reviewer)
        );

        CREATE TABLE ma_regulatory_filings (
            workflow_id      text PRIMARY KEY,
            filing_id        text NOT NULL,
            reference        text NOT NULL,
            kind             text NOT NULL,
            jurisdiction     text NOT NULL,
            status           text NOT NULL CHECK (status IN ('submitted', 'acknowledged', 'cleared',
                                                             'cleared_with_conditions', 'refused',
                                                             'timed_out', 'withdrawn')),
            conditions       jsonb NOT NULL DEFAULT '[]'::jsonb,
            decision_reason  text,
            updated_at       timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ma_regulatory_filings_open ON ma_regulatory_filings (status)
            WHERE status IN ('submitted', 'acknowledged');

        CREATE TABLE ma_target_responses (
            workflow_id        text NOT NULL,
            round              integer NOT NULL,
            event_id           text,
            response           text NOT NULL CHECK (response IN ('accept', 'counter', 'reject', 'timeout')),
            counter_price_usd  bigint,
            payload            jsonb NOT NULL,
            next_step          text NOT NULL,
            recorded_at        timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workflow_id, round)
        );
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TABLE ma_target_responses, ma_regulatory_filings, ma_offer_reviews, ma_offer_versions,"
        " ma_offers"
    )
