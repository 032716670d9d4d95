"""A small client of Airflow's public REST API (/api/v2), as the live tests' only way into Airflow."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

TERMINAL_RUN_STATES = ("success", "failed")


class AirflowClient:
    def __init__(self, base_url: str, passwords: dict[str, str]) -> None:
        self.base_url = base_url.rstrip("/")
        self.passwords = passwords
        self._tokens: dict[str, str] = {}
        self.http = httpx.Client(base_url=self.base_url, timeout=30)

    def token(self, user: str) -> str:
        if user not in self._tokens:
            resp = self.http.post("/auth/token", json={"username": user, "password": self.passwords[user]})
            resp.raise_for_status()
            self._tokens[user] = resp.json()["access_token"]
        return self._tokens[user]

    def request(self, method: str, path: str, *, user: str = "admin", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}"}
        return self.http.request(method, f"/api/v2{path}", headers=headers, **kwargs)

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any]) -> httpx.Response:
        return self.request(
            "POST", f"/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": None, "conf": conf}
        )

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        resp = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        resp = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 200})
        resp.raise_for_status()
        return {ti["task_id"]: ti["state"] or "" for ti in resp.json()["task_instances"]}

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        resp = self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body

    def answer(
        self, dag_id: str, run_id: str, task_id: str, option: str, *, user: str, comment: str = ""
    ) -> httpx.Response:
        return self.request(
            "PATCH",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails",
            user=user,
            json={"chosen_options": [option], "params_input": {"comment": comment}},
        )

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 120, interval: float = 0.2) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(interval)
        raise TimeoutError(f"{what}: not reached within {timeout:.0f} s (last: {last!r})")

    def wait_task_state(
        self, dag_id: str, run_id: str, task_id: str, states: tuple[str, ...], timeout: float = 120
    ) -> str:
        return str(
            self.wait(
                f"{dag_id}/{run_id}/{task_id} in {states}",
                lambda: (s := self.task_states(dag_id, run_id).get(task_id)) in states and s,
                timeout,
            )
        )

    def wait_started(self, dag_id: str, run_id: str, timeout: float = 60) -> dict[str, Any]:
        """The run once it exists: the CRM's start webhook is answered before the ingress starts it."""
        found: dict[str, Any] = self.wait(
            f"{dag_id}/{run_id} started",
            lambda: (
                (r := self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")).status_code == 200 and r.json()
            ),
            timeout,
            interval=0.1,
        )
        return found

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 180) -> str:
        return str(
            self.wait(
                f"{dag_id}/{run_id} finished",
                lambda: (s := self.run(dag_id, run_id)["state"]) in TERMINAL_RUN_STATES and s,
                timeout,
                interval=0.5,
            )
        )
