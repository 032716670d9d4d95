"""
### Knowledge retrieval (short-lived local)

Query -> pgvector search (HNSW, cosine) over the knowledge store's embedded chunks -> re-rank -> the top hits
with their sources (document, title, kind, section, character span). The step is the toolkit's retrieval
service, the same implementation `GET /services/knowledge/search` answers with; proposal generation calls it
in its own step (`search_task`).

Inventory: *Knowledge retrieval*, Sync, <3 s.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, get_current_context, task

from execution_plane.services.dag import service_dag


@service_dag(
    doc_md=__doc__,
    params={
        "query": Param(type="string", minLength=1, maxLength=2000),
        "top_k": Param(10, type="integer", minimum=1, maximum=50),
        "kinds": Param(
            None,
            type=["null", "array"],
            items={"type": "string", "enum": ["term_sheet", "dd_finding", "memo", "playbook", "other"]},
        ),
    },
)
def knowledge_retrieval() -> None:
    # ---------------------------------------------------------------- tasks
    @task
    def search() -> dict[str, Any]:
        from execution_plane.services.retrieval import search_task

        params = get_current_context()["params"]
        return search_task({k: params[k] for k in ("query", "top_k", "kinds")})

    # ---------------------------------------------------------------- calling tasks
    search()


knowledge_retrieval()
