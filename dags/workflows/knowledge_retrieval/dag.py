"""
### Knowledge retrieval (short-lived local)

Query -> pgvector search (HNSW, cosine) over the knowledge store's embedded chunks -> re-rank -> the top hits
with their sources (document, title, kind, section, character span). The step is the toolkit's retrieval
service, the same implementation `GET /services/knowledge/search` answers with; proposal generation calls it
in its own step (`search_task`).

Inventory: *Knowledge retrieval*, Sync, <3 s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from execution_plane.defaults import default_args, tags_for


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    doc_md=__doc__,
    default_args=default_args(retries=2),
    tags=tags_for("knowledge_retrieval", "services"),
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
