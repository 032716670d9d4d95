"""The reconciler's logic (see dags/saga_reconciler.py)."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from execution_plane.saga.airflow_api import AirflowApi, start_compensation
from execution_plane.saga.db import connect
from execution_plane.saga.ledger import BAD_ENDINGS

log = logging.getLogger(__name__)


def grace_seconds() -> float:
    """How long a run must have been failed before the reconciler acts in its callback's place, so the
    callback (seconds) normally wins and the reconciler only covers the lost ones."""
    return float(os.environ.get("EP_RECONCILER_GRACE_S", "30"))


def reconcile(api: AirflowApi | None = None, conn: Any = None) -> dict[str, list[str]]:
    api = api or AirflowApi()
    own_conn = conn is None
    conn = conn or connect()
    started: list[str] = []
    lost_callbacks: list[str] = []
    failures: list[str] = []
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT workflow_id, status, COALESCE(reason, status) FROM saga_workflows"
                " WHERE status = ANY(%s) AND compensation_run_id IS NULL",
                (list(BAD_ENDINGS),),
            )
            ended_badly = cur.fetchall()
            cur.execute("SELECT workflow_id, dag_id, run_id FROM saga_workflows WHERE status = 'running'")
            running = cur.fetchall()
        for workflow_id, status, reason in ended_badly:
            if _start(api, workflow_id, reason, status, failures):
                started.append(workflow_id)
        by_dag: dict[str, dict[str, str]] = {}
        for workflow_id, dag_id, run_id in running:
            by_dag.setdefault(dag_id, {})[run_id] = workflow_id
        cutoff = datetime.now(UTC) - timedelta(seconds=grace_seconds())
        for dag_id, runs in by_dag.items():
            failed = {r["dag_run_id"]: r for r in _failed_runs(api, dag_id, set(runs))}
            for run_id, workflow_id in runs.items():
                ended = failed.get(run_id, {}).get("end_date")
                if not ended or datetime.fromisoformat(ended.replace("Z", "+00:00")) > cutoff:
                    continue
                reason = f"run {run_id} failed; its failure callback did not start compensation"
                if _start(api, workflow_id, reason, "failed", failures):
                    lost_callbacks.append(workflow_id)
    finally:
        if own_conn:
            conn.close()
    if started or lost_callbacks:
        log.warning(
            "reconciler started compensation: ended badly=%s, lost callbacks=%s", started, lost_callbacks
        )
    if failures:
        raise RuntimeError(f"could not start compensation of {failures} (the others were started)")
    return {"started": started, "lost_callbacks": lost_callbacks}


def _start(api: AirflowApi, workflow_id: str, reason: str, bad_ending: str, failures: list[str]) -> bool:
    """One workflow the API refuses (e.g. an id the compensation DAG's params reject) must not keep every
    other workflow from being compensated: log it, go on, fail the task at the end."""
    try:
        return start_compensation(
            workflow_id, reason=reason, bad_ending=bad_ending, source="reconciler", api=api
        )
    except Exception:
        log.exception("could not start compensation of %s", workflow_id)
        failures.append(workflow_id)
        return False


def _failed_runs(api: AirflowApi, dag_id: str, wanted: set[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = api.dag_runs(dag_id, state="failed", limit=100, offset=offset)
        found.extend(r for r in page if r.get("dag_run_id") in wanted)
        if len(page) < 100 or len(found) == len(wanted):
            return found
        offset += 100
