"""Knowledge retrieval: documents (term sheets, DD findings, memos, playbooks) split into chunks
(``chunking``), embedded through the LLM connection and stored in Postgres with pgvector (the toolkit's
``execution_plane.services.retrieval``), searched, then re-ranked here (``rerank``) and returned with their
sources. ``data/`` holds a labelled set: 12 documents written for this project and 49 queries, each with the
document and the words of its answer (``corpus``), for recall@10; ``synthetic`` makes distractor chunks
for the 10k/100k benchmark."""
