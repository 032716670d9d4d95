"""The services of the live stack reach their stores as `make run`'s do.

The stacks of tests/e2e run on databases of their own (``devtools.stack.attach_isolated``) but share the
profile's knowledge store, which lives on the server with pgvector (here the embedded PostgreSQL 16, not the
machine's 15): the isolated stacks had been pointed at the business database's server instead, and every
knowledge search answered 503 ``knowledge_store_unavailable`` there.
"""

from __future__ import annotations

from typing import Any

import pytest

from devtools import env as ep_env

pytestmark = [pytest.mark.live, pytest.mark.timeout(300)]


def test_knowledge_search_reaches_the_store(live: Any) -> None:
    headers = {"Authorization": f"Bearer {live.airflow.token(ep_env.ANALYST_USER)}"}
    resp = live.airflow.http.get(
        "/services/knowledge/search", params={"query": "term sheet exclusivity", "top_k": 3}, headers=headers
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert isinstance(body["hits"], list), body
