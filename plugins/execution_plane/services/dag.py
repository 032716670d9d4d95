"""``service_dag``: the DAG factory of the services' workflows, so their DAG files hold only their params and
their step.

    @service_dag(doc_md=__doc__, params={"text": Param(type="string", minLength=1, maxLength=10_000)})
    def dialect_detection() -> None:
        @task
        def detect() -> dict[str, Any]: ...

What each of them has, set here once: the DAG id from the function's name, run on demand (``schedule=None``,
no catch-up), the shared owner and two retries with backoff (``execution_plane.defaults``; every service write
is idempotent, so a retry is safe), its inventory class tag first and the tag ``services``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from airflow.sdk import dag

from execution_plane.defaults import START_DATE, default_args, tags_for

RETRIES = 2


def service_dag(*, doc_md: str | None, params: Mapping[str, Any]) -> Callable[[Callable[[], None]], Any]:
    def decorate(fn: Callable[[], None]) -> Any:
        return dag(
            dag_id=fn.__name__,
            schedule=None,
            start_date=START_DATE,
            catchup=False,
            doc_md=doc_md,
            default_args=default_args(retries=RETRIES),
            tags=tags_for(fn.__name__, "services"),
            params=dict(params),
        )(fn)

    return decorate
