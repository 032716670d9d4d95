"""DAG-wide defaults every workflow shares: owner, retries with exponential backoff, tags."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from execution_plane.catalog import by_dag_id

OWNER = "execution-plane"


def default_args(**overrides: Any) -> dict[str, Any]:
    """Retries are for transient faults only: every side effect is idempotent, so a retry is safe."""
    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": 3,
        "retry_delay": timedelta(seconds=10),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    }
    args.update(overrides)
    return args


def tags_for(dag_id: str, *extra: str) -> list[str]:
    """The DAG's inventory class tag first, so the UI filters workflows by class."""
    return [by_dag_id(dag_id).rule_class.tag, *extra]
