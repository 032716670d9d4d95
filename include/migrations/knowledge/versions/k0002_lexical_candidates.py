"""Knowledge store: full-text candidates beside the vector ones.

Measured at 10,000 chunks (12 labelled documents among synthetic distractors, sandbox embeddings): the HNSW
index returned a chunk holding the answer among its 50 candidates for 6 of 49 labelled queries (ef_search
100; 26 at ef_search 1,000; m 32 / ef_construction 200 did no better), where an exact scan found 46. The
hashed bag-of-words vectors are nearly orthogonal for unrelated texts, so the graph search has no gradient
to follow, and the labelled documents form an island the distractors barely link to. Search therefore also
asks a GIN full-text index for the chunks sharing the most query words and re-ranks the union.

``lexemes`` holds the chunk's normalised content words (``include.services.text.normalize.content_words`` of
the title, section and text: the same folding and light Arabic stemming the query gets), filled at ingest;
``lexical`` is its tsvector ('simple': no language-specific stemming, English and Arabic alike). Chunks
stored before this revision have empty lexemes until their document is ingested again (the chunking version
in the content digest changed with it, so the next ingest rewrites them).

Revision ID: k0002
Revises: k0001
"""

from __future__ import annotations

from alembic import op

revision = "k0002"
down_revision = "k0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE knowledge_chunks ADD COLUMN lexemes text NOT NULL DEFAULT '';
        ALTER TABLE knowledge_chunks
            ADD COLUMN lexical tsvector GENERATED ALWAYS AS (to_tsvector('simple', lexemes)) STORED;
        CREATE INDEX knowledge_chunks_lexical ON knowledge_chunks USING gin (lexical);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX knowledge_chunks_lexical;
        ALTER TABLE knowledge_chunks DROP COLUMN lexical, DROP COLUMN lexemes;
        """
    )
