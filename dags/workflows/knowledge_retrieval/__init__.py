"""knowledge_retrieval: the knowledge store searched, re-ranked, with sources (the retrieval service)."""

from __future__ import annotations
