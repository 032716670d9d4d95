"""Load airflow_settings.yaml (the Astro CLI's format) into Airflow's metadata database.

Outside the Astro CLI nothing reads that file, so `make run`/`make test` load it here. Values may
name ``${EP_...}`` placeholders filled from the chosen Postgres, ports and generated local secrets.
Run in a process whose environment is the project's Airflow environment (devtools.env.airflow_env).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


def expand(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise KeyError(f"airflow_settings.yaml names ${{{name}}}, which devtools does not provide")
            return values[name]

        return _PLACEHOLDER.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, values) for v in value]
    return value


def read_settings(path: Path, values: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    raw = yaml.safe_load(path.read_text()) or {}
    section = expand(raw.get("airflow", {}), values)
    return {key: section.get(key) or [] for key in ("connections", "variables", "pools")}


def connection_env(path: Path, values: dict[str, str]) -> dict[str, str]:
    """The connections as ``AIRFLOW_CONN_<ID>`` variables (JSON form), for processes outside Airflow's
    task runtime (tests, scripts), where the SDK reads secrets backends, not the metadata database."""
    env: dict[str, str] = {}
    for item in read_settings(path, values)["connections"]:
        conn: dict[str, Any] = {"conn_type": item["conn_type"]}
        for field in ("host", "schema", "login", "password", "port"):
            value = item.get(f"conn_{field}")
            if value not in (None, ""):
                conn[field] = int(value) if field == "port" else value
        if isinstance(item.get("conn_extra"), dict):
            conn["extra"] = item["conn_extra"]
        env[f"AIRFLOW_CONN_{item['conn_id'].upper()}"] = json.dumps(conn)
    return env


def load(path: Path, values: dict[str, str]) -> dict[str, int]:
    from airflow.models import Connection, Pool, Variable
    from airflow.utils.session import create_session

    settings = read_settings(path, values)
    with create_session() as session:
        for item in settings["connections"]:
            extra = item.get("conn_extra")
            conn = Connection(
                conn_id=item["conn_id"],
                conn_type=item["conn_type"],
                description=item.get("conn_description"),
                host=item.get("conn_host"),
                schema=item.get("conn_schema"),
                login=item.get("conn_login"),
                password=item.get("conn_password"),
                port=int(item["conn_port"]) if item.get("conn_port") else None,
                extra=json.dumps(extra) if isinstance(extra, dict) else extra,
            )
            session.query(Connection).filter(Connection.conn_id == conn.conn_id).delete()
            session.add(conn)
        for item in settings["pools"]:
            Pool.create_or_update_pool(
                name=item["pool_name"],
                slots=int(item["pool_slot"]),
                description=item.get("pool_description", ""),
                include_deferred=False,
                session=session,
            )
    for item in settings["variables"]:
        Variable.set(item["variable_name"], item["variable_value"])
    return {key: len(items) for key, items in settings.items()}


if __name__ == "__main__":
    counts = load(Path(sys.argv[1]), json.loads(sys.stdin.read()))
    print(", ".join(f"{n} {key}" for key, n in counts.items()))
