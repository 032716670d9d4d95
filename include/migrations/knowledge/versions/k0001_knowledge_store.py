"""Knowledge store: documents and their embedded chunks, with an HNSW index for cosine search.

``vector(384)``: the dimensions the LLM connection's embeddings are asked for (``embedding_dimensions`` in
its extra, 384 by default; the service refuses vectors of another size). HNSW (m 16, ef_construction 64,
pgvector's defaults) because it needs no training step and keeps recall as chunks are added, unlike IVFFlat
whose lists are fixed when the index is built.

A server without the ``vector`` extension available fails this migration with a message that names the
fix, before anything is created (``devtools.knowledge`` reports it and leaves the rest of the setup alone).

Revision ID: k0001
Revises:
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "k0001"
down_revision = None
branch_labels = None
depends_on = None

EMBEDDING_DIMENSIONS = 384
MISSING_EXTENSION = (
    "the pgvector extension ('vector') is not available on this PostgreSQL server: install it there "
    "(Debian 13+: apt-get install postgresql-<major>-pgvector) or point the knowledge_db connection "
    "(EP_KNOWLEDGE_POSTGRES_URL for devtools) at a server that has it, e.g. the embedded PostgreSQL 16"
)


def upgrade() -> None:
    available = op.get_bind().execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"))
    if available.first() is None:
        raise RuntimeError(MISSING_EXTENSION)
    op.execute(
        f"""
        CREATE EXTENSION IF NOT EXISTS vector;

        CREATE TABLE knowledge_documents (
            document_id     text PRIMARY KEY,
            kind            text NOT NULL
                            CHECK (kind IN ('term_sheet', 'dd_finding', 'memo', 'playbook', 'other')),
            title           text NOT NULL,
            source_uri      text,
            content_sha256  text NOT NULL,
            embedding_model text NOT NULL,
            chunk_count     integer NOT NULL,
            ingested_at     timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX knowledge_documents_kind ON knowledge_documents (kind);

        CREATE TABLE knowledge_chunks (
            document_id     text NOT NULL REFERENCES knowledge_documents (document_id) ON DELETE CASCADE,
            ordinal         integer NOT NULL,
            -- the document's kind again: a search filtered by kind reads the chunks alone
            kind            text NOT NULL,
            section         text NOT NULL,
            text            text NOT NULL,
            char_start      integer NOT NULL,
            char_end        integer NOT NULL,
            embedding       vector({EMBEDDING_DIMENSIONS}) NOT NULL,
            PRIMARY KEY (document_id, ordinal)
        );
        CREATE INDEX knowledge_chunks_embedding ON knowledge_chunks
            USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE knowledge_chunks, knowledge_documents;")
