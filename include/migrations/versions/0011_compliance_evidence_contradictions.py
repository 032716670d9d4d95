"""Domain tables of three internal workflows of issue 14: evidence_pack (one row per pack, keyed by its scope:
the subject and the moment it is taken as of, so a rebuild lands on the same row and is compared with it),
compliance_scan (one report per scan) and contradiction_scan (one scan per deal and set of document
contents, and the comparison cache keyed by the pair's content hashes, the model and the rules' version).

``evidence_packs`` (signature_commitment's packs) gains ``scope``: what the pack was collected from, so a
compliance scan can collect it again and compare the hash. Packs sealed before this revision have none and
are checked by their seal only.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE evidence_packs ADD COLUMN scope jsonb;

        CREATE TABLE evidence_pack_builds (
            pack_id          text PRIMARY KEY,
            workflow_id      text NOT NULL,
            subject_type     text NOT NULL CHECK (subject_type IN ('workflow', 'deal')),
            subject_id       text NOT NULL,
            as_of            timestamptz NOT NULL,
            scope            jsonb NOT NULL,
            manifest         jsonb NOT NULL,
            manifest_sha256  text NOT NULL,
            item_count       integer NOT NULL CHECK (item_count > 0),
            json_sha256      text NOT NULL,
            pdf_sha256       text NOT NULL,
            rebuilds         integer NOT NULL DEFAULT 0,
            last_rebuilt_at  timestamptz,
            mismatch_sha256  text,
            mismatch_at      timestamptz,
            built_at         timestamptz NOT NULL DEFAULT now(),
            UNIQUE (subject_type, subject_id, as_of)
        );
        CREATE INDEX evidence_pack_builds_built ON evidence_pack_builds (built_at);

        CREATE TABLE compliance_scans (
            workflow_id        text PRIMARY KEY,
            scan_id            text NOT NULL UNIQUE,
            window_start       timestamptz NOT NULL,
            window_end         timestamptz NOT NULL,
            status             text NOT NULL CHECK (status IN ('passed', 'failed')),
            results            jsonb NOT NULL,
            failing            text[] NOT NULL DEFAULT '{}',
            report_sha256      text NOT NULL,
            report_pdf_sha256  text NOT NULL,
            notified           jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at         timestamptz NOT NULL DEFAULT now(),
            updated_at         timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX compliance_scans_created ON compliance_scans (created_at);

        CREATE TABLE contradiction_scans (
            workflow_id          text PRIMARY KEY,
            deal_id              text NOT NULL,
            fingerprint          text NOT NULL,
            documents            jsonb NOT NULL,
            model                text NOT NULL,
            pairs                integer NOT NULL CHECK (pairs > 0),
            status               text NOT NULL CHECK (status IN ('clean', 'conflicts')),
            conflicts            jsonb NOT NULL,
            conflict_count       integer NOT NULL,
            owner_email          text,
            notified_message_id  text,
            created_at           timestamptz NOT NULL DEFAULT now(),
            updated_at           timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX contradiction_scans_deal ON contradiction_scans (deal_id, created_at);

        CREATE TABLE contradiction_comparisons (
            cache_key          text PRIMARY KEY,
            document_a_sha256  text NOT NULL,
            document_b_sha256  text NOT NULL,
            model              text NOT NULL,
            rules_version      text NOT NULL,
            result             jsonb NOT NULL,
            compared_at        timestamptz NOT NULL DEFAULT now(),
            reused             integer NOT NULL DEFAULT 0,
            last_used_at       timestamptz NOT NULL DEFAULT now(),
            CHECK (document_a_sha256 <= document_b_sha256)
        );
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE contradiction_comparisons, contradiction_scans, compliance_scans, evidence_pack_builds;
        ALTER TABLE evidence_packs DROP COLUMN scope;
        """
    )
