"""What the control "no secrets in logs or XComs" scans, read through Airflow's public REST API (tasks may
not touch Airflow's metadata database) with the service credential of ``airflow_api``:

- the secrets to look for: every connection the API lists, its password (and its Basic header form) as a
  task reads it (``BaseHook.get_connection``, the secrets backend included);
- the task instances that started in the window (the newest ``max_task_instances``): each one's log of its
  latest try and every XCom it pushed.

The scan keeps only where each text came from; no secret is logged or returned.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

PAGE = 100


def collect(*, since: datetime, max_task_instances: int) -> tuple[list[Any], dict[str, str], str]:
    """(texts scanned, name -> secret, what was sampled)."""
    from execution_plane.saga.airflow_api import AirflowApi
    from workflows.compliance_scan.domain import ScannedText

    api = AirflowApi()
    known = connection_secrets(api)
    instances, total = task_instances(api, since, max_task_instances)
    texts: list[ScannedText] = []
    for ti in instances:
        ref = f"{ti['dag_id']}/{ti['dag_run_id']}/{ti['task_id']}[{ti.get('map_index', -1)}]"
        text = task_log(api, ti)
        if text is not None:
            texts.append(ScannedText("log", f"{ref} try {ti['try_number']}", text))
        for key, value in xcoms(api, ti):
            texts.append(ScannedText("xcom", f"{ref} {key}", value))
    sampled = f"{len(instances)} of {total} task instances started since {since.isoformat()}"
    log.info("secrets scan: %s; %s texts, %s secrets looked for", sampled, len(texts), len(known))
    return texts, known, sampled


def _ok(resp: Any) -> Any:
    resp.raise_for_status()
    return resp.json()


def connection_secrets(api: Any) -> dict[str, str]:
    from airflow.sdk import BaseHook

    from include.security.secrets_scan import secret_variants

    found: dict[str, str] = {}
    offset = 0
    while True:
        page = _ok(api.request("GET", "/connections", params={"limit": PAGE, "offset": offset}))
        for item in page.get("connections", []):
            conn_id = item["connection_id"]
            conn = BaseHook.get_connection(conn_id)
            found.update(secret_variants(f"connection {conn_id}", conn.password, conn.login))
        offset += PAGE
        if offset >= int(page.get("total_entries", 0)):
            return found


def task_instances(api: Any, since: datetime, limit: int) -> tuple[list[dict[str, Any]], int]:
    found: list[dict[str, Any]] = []
    total = 0
    offset = 0
    while len(found) < limit:
        page = _ok(
            api.request(
                "GET",
                "/dags/~/dagRuns/~/taskInstances",
                params={
                    "start_date_gte": since.isoformat(),
                    "order_by": "-start_date",
                    "limit": min(PAGE, limit - len(found)),
                    "offset": offset,
                },
            )
        )
        total = int(page.get("total_entries", 0))
        batch = page.get("task_instances", [])
        found += [ti for ti in batch if int(ti.get("try_number") or 0) > 0]
        offset += len(batch)
        if not batch or offset >= total:
            break
    return found[:limit], total


def task_log(api: Any, ti: dict[str, Any]) -> str | None:
    resp = api.request(
        "GET",
        f"/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}",
        params={"map_index": ti.get("map_index", -1), "full_content": "true"},
    )
    if resp.status_code == 404:
        return None
    content = _ok(resp).get("content")
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, default=str)


def xcoms(api: Any, ti: dict[str, Any]) -> list[tuple[str, str]]:
    base = f"/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/xcomEntries"
    map_index = ti.get("map_index", -1)
    listed = _ok(api.request("GET", base, params={"map_index": map_index, "limit": PAGE}))
    values = []
    for entry in listed.get("xcom_entries", []):
        resp = api.request(
            "GET", f"{base}/{entry['key']}", params={"map_index": map_index, "stringify": "true"}
        )
        if resp.status_code == 404:
            continue
        values.append((entry["key"], str(_ok(resp).get("value"))))
    return values
