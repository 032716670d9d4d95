"""Starting DAG runs from inside the API server (blocking metadata-DB calls: call from a ``def`` route or
the starter's thread).

The run id is derived from the sender's event id, so Airflow's unique (dag_id, run_id) makes a redelivery
start nothing: the second delivery finds the run, or loses the insert race and is told it is a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from execution_plane.webhooks.errors import WebhookError

log = logging.getLogger(__name__)

TRIGGERING_USER = "webhook:crm"


@dataclass(frozen=True)
class StartResult:
    status: Literal["started", "duplicate"]
    dag_id: str
    run_id: str


def crm_run_id(event_id: str) -> str:
    return f"crm__{event_id}"


_PARAMS: dict[str, tuple[Any, Any]] = {}
"""dag_id -> (the DAG version whose params these are, its params): deserializing a DAG costs tens of ms."""


def check_startable(dag_id: str, conf: dict[str, Any]) -> None:
    """Refuse now what the run's start would refuse later: a workflow missing in Airflow (503: deploying it
    makes a retry succeed), paused (409), or params its DAG refuses (422, the DAG's own ``Param`` checks, as
    Airflow runs them when it creates the run). The ingress asks before it stores a start request."""
    from airflow.exceptions import ParamValidationError
    from airflow.models import DagModel
    from airflow.models.dag_version import DagVersion
    from airflow.models.dagbag import DBDagBag
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.exc import OperationalError

    try:
        with create_session() as session:
            _refuse_unstartable(dag_id, session.scalar(select(DagModel).where(DagModel.dag_id == dag_id)))
            version = session.scalar(
                select(DagVersion.id)
                .where(DagVersion.dag_id == dag_id)
                .order_by(DagVersion.version_number.desc())
                .limit(1)
            )
            cached = _PARAMS.get(dag_id)
            if cached is None or cached[0] != version:
                dag = DBDagBag().get_latest_version_of_dag(dag_id, session=session)
                if dag is None:
                    _refuse_unstartable(dag_id, None)
                    return
                cached = _PARAMS[dag_id] = (version, dag.params)
    except OperationalError:
        log.exception("Airflow metadata database unavailable")
        raise WebhookError(503, "unavailable", "Airflow's database is unavailable; retry later") from None
    try:
        cached[1].deep_merge(conf).validate()
    except ParamValidationError as exc:
        raise WebhookError(422, "invalid_params", str(exc), field="payload") from None


def _refuse_unstartable(dag_id: str, dag: Any) -> None:
    if dag is None or dag.is_stale or dag.has_import_errors:
        # 503: deploying or fixing the DAG file makes a retry of the same delivery succeed.
        raise WebhookError(
            503,
            "workflow_unavailable",
            f"workflow {dag_id!r} is not deployed in Airflow (missing, removed or failing to import)",
            field="workflow",
        )
    if dag.is_paused:
        raise WebhookError(
            409, "workflow_paused", f"workflow {dag_id!r} is paused in Airflow", field="workflow"
        )


def start_run(
    dag_id: str, run_id: str, conf: dict[str, Any], *, startable_dag_ids: Iterable[str]
) -> StartResult:
    """Start ``dag_id`` with ``run_id`` and ``conf`` unless a run with that id exists.

    ``run_id`` is looked up among all ``startable_dag_ids``: the same event id naming another workflow is a
    sender error (409), not a second workflow to start.
    """
    # Imported here: the plugin module is imported by every component; only the API server needs these.
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import DagRunAlreadyExists, ParamValidationError
    from airflow.models import DagModel, DagRun
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError, OperationalError

    try:
        with create_session() as session:
            existing = session.scalars(
                select(DagRun.dag_id).where(
                    DagRun.run_id == run_id, DagRun.dag_id.in_(sorted({dag_id, *startable_dag_ids}))
                )
            ).all()
            if dag_id in existing:
                return StartResult("duplicate", dag_id, run_id)
            if existing:
                raise WebhookError(
                    409,
                    "event_id_conflict",
                    f"event_id already started workflow {existing[0]!r}",
                    field="event_id",
                )
            _refuse_unstartable(dag_id, session.scalar(select(DagModel).where(DagModel.dag_id == dag_id)))
            try:
                trigger_dag(
                    dag_id,
                    run_id=run_id,
                    conf=conf,
                    logical_date=None,
                    run_type=DagRunType.MANUAL,
                    triggered_by=DagRunTriggeredByType.REST_API,
                    triggering_user_name=TRIGGERING_USER,
                    session=session,
                )
            except ParamValidationError as exc:
                raise WebhookError(422, "invalid_params", str(exc), field="payload") from None
            except ValueError as exc:
                # The DAG refuses the run itself (e.g. it allows no manual runs): retrying cannot help.
                raise WebhookError(409, "run_refused", str(exc), field="workflow") from None
    except (DagRunAlreadyExists, IntegrityError):
        # Lost the race against a concurrent delivery of the same event: it started the run.
        return StartResult("duplicate", dag_id, run_id)
    except OperationalError:
        log.exception("Airflow metadata database unavailable")
        raise WebhookError(503, "unavailable", "Airflow's database is unavailable; retry later") from None
    return StartResult("started", dag_id, run_id)
