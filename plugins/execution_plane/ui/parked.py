"""What each running workflow is parked on right now, read from Airflow's own task instances.

A run that waits holds a task instance in ``awaiting_input`` (a person: Airflow's HITL, behind every approval
gate) or ``deferred`` (a trigger: an outside event through ``ExternalEventTrigger``, a child workflow's
outcome through the same trigger, a date through the standard provider's ``DateTimeTrigger``). Airflow
knows when each wait began and when it expires (``trigger_timeout``, the trigger's own deadline or date); the
business database knows who an approval is assigned to (``approval_requests``), which the page takes from
there.

Read in the API server (the plugin app's process), on Airflow's metadata database through its ORM session:
one query for every parked task instance of the DAGs a user may read. Its size is the number of parked waits,
not the number of workflows.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from execution_plane.saga.keys import outcome_key
from execution_plane.ui.states import WaitKind

EXTERNAL_EVENT_TRIGGER = "execution_plane.triggers.external_event.ExternalEventTrigger"
DATE_TRIGGER = "airflow.providers.standard.triggers.temporal.DateTimeTrigger"
CHILD_FAMILY = "workflow"  # the family of a child workflow's outcome events (workflow.completed, ...)


@dataclass(frozen=True)
class ParkedWait:
    """One parked task instance of a running DAG run."""

    dag_id: str
    run_id: str
    task_id: str
    kind: WaitKind
    who: tuple[str, ...]
    """Who or what it waits on: the assigned users of an approval, an outside event's family ("partner",
    "filing", "workflow" for a child), "date"; what the ``waiting_on`` filter matches."""
    label: str
    since: datetime | None
    until: datetime | None


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None  # an unrendered template: the trigger has not started yet
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def classify(
    classpath: str | None, kwargs: Mapping[str, Any], *, timeout: datetime | None
) -> tuple[WaitKind, tuple[str, ...], str, datetime | None]:
    """(kind, who, label, until) of a deferred task instance from its trigger."""
    if classpath == DATE_TRIGGER:
        until = _moment(kwargs.get("moment")) or _moment(kwargs.get("target_time"))
        return "date", ("date",), "a date", until or timeout
    if classpath == EXTERNAL_EVENT_TRIGGER:
        key = str(kwargs.get("correlation_key") or "")
        types = [str(t) for t in kwargs.get("event_types") or ()]
        families = sorted({t.split(".", 1)[0] for t in types}) or ["event"]
        until = _moment(kwargs.get("timeout_at")) or timeout
        child_suffix = outcome_key("")
        if families == [CHILD_FAMILY] and key.endswith(child_suffix):
            return "system", (CHILD_FAMILY,), f"child workflow {key.removesuffix(child_suffix)}", until
        return "system", tuple(families), f"{' / '.join(families)} event ({key})", until
    name = (classpath or "unknown trigger").rsplit(".", 1)[-1]
    return "system", (name,), name, timeout


def parked_waits(dag_ids: Collection[str]) -> list[ParkedWait]:
    """Every parked task instance of the running runs of ``dag_ids``."""
    if not dag_ids:
        return []
    from airflow.models.dagrun import DagRun
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import and_, select

    ti = TaskInstance
    stmt = (
        select(
            ti.dag_id,
            ti.run_id,
            ti.task_id,
            ti.state,
            ti.start_date,
            ti.trigger_timeout,
            Trigger.classpath,
            Trigger.encrypted_kwargs,
            Trigger.created_date,
            HITLDetail.assignees,
            HITLDetail.created_at,
        )
        .join(DagRun, and_(DagRun.dag_id == ti.dag_id, DagRun.run_id == ti.run_id))
        .outerjoin(Trigger, Trigger.id == ti.trigger_id)
        .outerjoin(HITLDetail, HITLDetail.ti_id == ti.id)
        .where(
            ti.state.in_([TaskInstanceState.DEFERRED, TaskInstanceState.AWAITING_INPUT]),
            DagRun.state == DagRunState.RUNNING,
            ti.dag_id.in_(list(dag_ids)),
        )
    )
    waits: list[ParkedWait] = []
    with create_session() as session:
        rows = session.execute(stmt).all()
    for dag_id, run_id, task_id, state, start, timeout, classpath, kwargs, created, assignees, asked in rows:
        if state == TaskInstanceState.AWAITING_INPUT:
            who = tuple(str(a.get("name") or a.get("id")) for a in assignees or ())
            waits.append(
                ParkedWait(dag_id, run_id, task_id, "person", who, "approval", asked or start, timeout)
            )
            continue
        if classpath is None:
            continue  # deferred, its trigger not yet written: the next read sees it
        try:
            decoded = Trigger._decrypt_kwargs(kwargs)
        except Exception:  # a trigger written with another Fernet key: still a wait, its details unread
            decoded = {}
        kind, who, label, until = classify(classpath, decoded, timeout=timeout)
        waits.append(ParkedWait(dag_id, run_id, task_id, kind, who, label, created or start, until))
    return waits
