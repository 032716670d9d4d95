"""Start DAG runs through Airflow's public REST API with the service credential of ``airflow_api``.

Callbacks and tasks may not use Airflow's ORM in Airflow 3; the REST API is the supported door. A
deterministic run id makes a second start a 409 instead of a second run.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from execution_plane.saga.keys import compensation_run_id

log = logging.getLogger(__name__)

API_CONN_ID = "airflow_api"
COMPENSATION_DAG_ID = "saga_compensation"
_TOKEN_CACHE: dict[str, tuple[str, float]] = {}
TOKEN_REUSE_S = 3600  # tokens live 24 h; re-login hourly


class AirflowApi:
    def __init__(self, conn_id: str = API_CONN_ID, *, timeout_s: float = 15.0) -> None:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
        self.base = (conn.host or "").rstrip("/")
        self._login = conn.login or ""
        self._password = conn.password or ""
        self.timeout_s = timeout_s

    def _token(self) -> str:
        cached = _TOKEN_CACHE.get(self.base + self._login)
        if cached and time.monotonic() - cached[1] < TOKEN_REUSE_S:
            return cached[0]
        resp = httpx.post(
            f"{self.base}/auth/token",
            json={"username": self._login, "password": self._password},
            timeout=self.timeout_s,
        )
        resp.raise_for_status()
        token = str(resp.json()["access_token"])
        _TOKEN_CACHE[self.base + self._login] = (token, time.monotonic())
        return token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token()}"}
        resp = httpx.request(
            method, f"{self.base}/api/v2{path}", headers=headers, timeout=self.timeout_s, **kwargs
        )
        if resp.status_code == 401:  # token rotated (e.g. a new JWT secret): log in again once
            _TOKEN_CACHE.pop(self.base + self._login, None)
            headers = {"Authorization": f"Bearer {self._token()}"}
            resp = httpx.request(
                method, f"{self.base}/api/v2{path}", headers=headers, timeout=self.timeout_s, **kwargs
            )
        return resp

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any], note: str | None = None) -> bool:
        """Start a run; False when that run id already exists (the start already happened)."""
        body: dict[str, Any] = {"dag_run_id": run_id, "logical_date": None, "conf": conf}
        if note:
            body["note"] = note
        resp = self.request("POST", f"/dags/{dag_id}/dagRuns", json=body)
        if resp.status_code == 409:
            log.info("run %s of %s already exists: not starting it again", run_id, dag_id)
            return False
        resp.raise_for_status()
        log.info("started run %s of %s", run_id, dag_id)
        return True

    def dag_runs(
        self, dag_id: str, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, "offset": offset, "order_by": "-run_after"}
        if state:
            params["state"] = state
        resp = self.request("GET", f"/dags/{dag_id}/dagRuns", params=params)
        if resp.status_code == 404:
            return []
        resp.raise_for_status()
        return list(resp.json().get("dag_runs", []))

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        resp = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body

    def end_run(self, dag_id: str, run_id: str) -> bool:
        """Mark a run failed (its unfinished tasks stop); False when it had already ended or is unknown."""
        resp = self.request(
            "PATCH",
            f"/dags/{dag_id}/dagRuns/{run_id}",
            params={"update_mask": "state"},
            json={"state": "failed"},
        )
        if resp.status_code in (400, 404, 409):
            log.info("run %s of %s not ended now (%s): %s", run_id, dag_id, resp.status_code, resp.text[:200])
            return False
        resp.raise_for_status()
        return True

    def set_note(self, dag_id: str, run_id: str, note: str) -> None:
        resp = self.request(
            "PATCH", f"/dags/{dag_id}/dagRuns/{run_id}", params={"update_mask": "note"}, json={"note": note}
        )
        resp.raise_for_status()

    def hitl_detail_of_try(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1
    ) -> dict[str, Any] | None:
        resp = self.request(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/hitlDetails/tries/"
            f"{try_number}",
        )
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body

    def event_logs(
        self, *, dag_id: str, run_id: str, task_id: str, event: str, limit: int = 100
    ) -> list[dict[str, Any]]:
        resp = self.request(
            "GET",
            "/eventLogs",
            params={
                "dag_id": dag_id,
                "run_id": run_id,
                "task_id": task_id,
                "event": event,
                "order_by": "when",
                "limit": limit,
            },
        )
        resp.raise_for_status()
        return list(resp.json().get("event_logs", []))


def start_compensation(
    workflow_id: str, *, reason: str, bad_ending: str, source: str, api: AirflowApi | None = None
) -> bool:
    """Start the compensation DAG for a workflow; a second call is a 409 and starts nothing."""
    api = api or AirflowApi()
    return api.trigger(
        COMPENSATION_DAG_ID,
        compensation_run_id(workflow_id),
        {"workflow_id": workflow_id, "reason": reason[:2000], "bad_ending": bad_ending, "source": source},
        note=f"{bad_ending}: {reason[:300]}",
    )
