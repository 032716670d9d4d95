"""The toolkit's business metrics, through Airflow's own metrics (``[metrics] otel_on``: OpenTelemetry).

Every metric is named ``execution_plane.<what>`` (Airflow's OTel logger prefixes ``airflow.``) and carries
its dimensions as attributes. The metrics of waits, approvals and compensations also carry ``workflow`` (the
workflow's DAG id: a handful of values), so each workflow type can be watched on its own:

- ``wait.parked`` (counter; ``kind``: approval, event): a workflow parked on a person or an outside system;
- ``wait.resumed`` (counter; ``kind``, ``outcome``: approved, rejected, expired, received; ``by``: worker,
  ingress) and ``wait.duration`` (histogram, ms from parking to resuming; ``kind``);
- ``approval.answered`` (counter; ``decision``: approved, rejected), ``approval.expired`` (counter: nobody
  answered before the expiry), ``approval.reminder_sent`` (counter; ``kind``: a reminder kind or escalation);
- ``compensation.started``, ``compensation.completed``, ``compensation.failed`` (counters; failed counts
  failed attempts, each retried);
- ``webhook.accepted`` (counter; ``route``: crm, esign, events; ``status``: accepted, duplicate) and
  ``webhook.refused`` (counter; ``reason``: the error code of the answer; ``status``: the HTTP status);
- ``outside_call.duration`` (histogram, ms; ``system``: crm, email, esign, ...; ``outcome``: ok, error) and
  ``outside_call.errors`` (counter; ``system``, ``kind``: transport, http_4xx, http_429, http_5xx).

Which Stats: Airflow keeps two singletons, the core one (``airflow.observability.stats``: API server,
scheduler, triggerer, and the processes they fork) and the Task SDK's (``airflow.sdk.observability.stats``:
a task's own process). A metric goes to the one Airflow initialized in this process (the core one where
both were, as in a task process forked from a LocalExecutor worker), so it is counted once. With metrics
off, or where neither was initialized (``dag.test()`` in a test process), they are no-ops.

A task process ends with ``os._exit``: nothing registered with ``atexit`` runs, so a periodic exporter would
lose what the task recorded. In a task process (the Task SDK's task runner holds its ``SUPERVISOR_COMMS``)
each metric is exported as soon as it is recorded, bounded by ``FLUSH_TIMEOUT_MS`` (a task records a
handful). Not through an Airflow listener flushing when the task process stops: Airflow 3.3.2 refuses to
load any DAG with an ``end_from_trigger=True`` task while a plugin registers a listener (``DagBag.bag_dag``),
which would break the standard provider's date waits for every DAG of a deployment.

Metrics never fail the business: an error while recording is logged and swallowed.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "execution_plane."
FLUSH_TIMEOUT_MS = 3000


def _stats() -> Any:
    from airflow.sdk._shared.observability.metrics import stats as sdk_stats

    try:
        from airflow._shared.observability.metrics import stats as core_stats
    except ImportError:  # a worker image with the Task SDK only
        return sdk_stats
    # Private state, read-only: the module functions take whatever factory ``initialize`` was given.
    if getattr(core_stats, "_factory", None) is not None:
        return core_stats
    return sdk_stats


def incr(name: str, count: int = 1, **tags: str) -> None:
    try:
        _stats().incr(PREFIX + name, count, tags=tags or None)
    except Exception:
        log.warning("could not record metric %s", name, exc_info=True)
    _flush_in_task_process()


def timing(name: str, duration: timedelta | float, **tags: str) -> None:
    """Record a duration (a timedelta, or milliseconds)."""
    try:
        _stats().timing(PREFIX + name, duration, tags=tags or None)
    except Exception:
        log.warning("could not record metric %s", name, exc_info=True)
    _flush_in_task_process()


def in_task_process() -> bool:
    """A task's own process: the Task SDK's task runner set up its channel to the supervisor."""
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(runner, "SUPERVISOR_COMMS", None) is not None


def _flush_in_task_process() -> None:
    if in_task_process():
        flush()


def since(moment: datetime | None, now: datetime) -> timedelta | None:
    return now - moment if moment is not None else None


def _providers() -> list[Any]:
    """The meter providers of this process: the global one and each Stats backend's own (each backend sets
    the global provider when it is built, so the one built first is no longer global)."""
    from opentelemetry import metrics

    found: list[Any] = [metrics.get_meter_provider()]
    for name in (
        "airflow.sdk._shared.observability.metrics.stats",
        "airflow._shared.observability.metrics.stats",
    ):
        backend = getattr(sys.modules.get(name), "_backend", None)
        found.append(getattr(backend, "otel", None))
    unique: dict[int, Any] = {id(p): p for p in found if p is not None and hasattr(p, "force_flush")}
    return list(unique.values())


def flush() -> None:
    """Export what this process recorded now (a task process exits without running ``atexit``)."""
    try:
        for provider in _providers():
            provider.force_flush(timeout_millis=FLUSH_TIMEOUT_MS)
    except Exception:
        log.warning("could not flush metrics", exc_info=True)
