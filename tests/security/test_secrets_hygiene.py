"""Secrets live only in connections and the environment: never in logs, XComs, rendered templates, the
audit log or any business table.

The partner_approval happy path runs through ``dag.test()`` exactly as
``tests/dags/workflows/partner_approval/test_dag.py::test_happy_path_activates_partner_once`` does (its
``run`` helper and ``dag`` fixture are imported), then every place a value could leak to is scanned for
every secret value:
- the secrets of ``.local/secrets.json`` (webhook HMAC secrets, approval token secret, service and user
  passwords, JWT secret, Fernet key) and every connection password of the ``AIRFLOW_CONN_*`` environment
  (also as the ``login:password`` base64 of an HTTP Basic header);
- in: the log output of the run (stdout/stderr and log records: ``dag.test()`` runs the tasks in this
  process, so their log lines are there; it writes no task log file), the ``xcom``,
  ``rendered_task_instance_fields``, ``hitl_detail``, ``dag_run`` and ``log`` rows of that run in the
  metadata DB, and every row of every business table (``audit_log`` included). The task log files a live
  stack writes are scanned by tests/e2e/test_toolkit_live.py::test_task_log_files_hold_no_secret.

The scan itself (``include.security.secrets_scan``: raw or JSON-escaped values, Basic headers) is the one
compliance_scan runs over a window of runs' task logs and XComs.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from typing import Any

import pytest

from include.security.secrets_scan import MIN_SECRET_LENGTH, leaks, secret_variants
from tests.dags.workflows.partner_approval.test_dag import (  # noqa: F401 - ``dag`` and ``requested`` are fixtures
    EXECUTIVE_OK,
    LEGAL_OK,
    MANAGER_OK,
    accept,
    dag,
    requested,
    run,
)

pytestmark = pytest.mark.timeout(300)


def secret_values() -> dict[str, str]:
    """name -> secret value, from .local/secrets.json and the connections in the environment."""
    from airflow.models import Connection

    from devtools.env import LOCAL

    data = json.loads((LOCAL / "secrets.json").read_text())
    found: dict[str, str] = {}
    for name, value in data.items():
        if isinstance(value, dict):
            found.update({f"{name}.{user}": str(password) for user, password in value.items()})
        else:
            found[name] = str(value)
    for env_name, raw in os.environ.items():
        if not env_name.startswith("AIRFLOW_CONN_"):
            continue
        conn_id = env_name.removeprefix("AIRFLOW_CONN_").lower()
        # airflow.models.Connection: the parser of AIRFLOW_CONN_* values (JSON or URI) that Airflow uses.
        conn = (
            Connection.from_json(raw, conn_id=conn_id)  # noqa: AIR311
            if raw.lstrip().startswith("{")
            else Connection(conn_id=conn_id, uri=raw)  # noqa: AIR311
        )
        found.update(secret_variants(f"connection {conn_id}", conn.password, conn.login))
    for user, password in data.get("user_passwords", {}).items():
        found[f"user {user} (Basic header)"] = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {name: value for name, value in found.items() if len(value) >= MIN_SECRET_LENGTH}


def test_leaks_finds_raw_and_json_escaped_values() -> None:
    secrets = {"a": 's3cr3t/\\"value', "b": "never-there"}
    assert leaks('x s3cr3t/\\"value y', secrets) == ["a"]
    assert leaks(json.dumps({"k": 's3cr3t/\\"value'}), secrets) == ["a"]
    assert leaks("nothing", secrets) == []


def test_secret_list_is_complete() -> None:
    """The scan below is only as good as this list: every kind of secret the brief names is in it."""
    names = set(secret_values())
    for expected in (
        "jwt_secret",
        "fernet_key",
        "service_password",
        "webhook_crm_secret",
        "webhook_esign_secret",
        "webhook_events_secret",
        "approval_token_secret",
        "user_passwords.manager",
        "connection webhook_crm",
        "connection airflow_api",
        "connection crm_default",
    ):
        assert expected in names, (expected, sorted(names))


def metadata_texts(dag_id: str, run_id: str) -> dict[str, list[str]]:
    """The rows of the run in Airflow's metadata DB that could hold a value, as text, per table."""
    from airflow.utils.session import create_session
    from sqlalchemy import text

    queries = {
        "xcom": "SELECT task_id || ' ' || key || ' ' || CAST(value AS TEXT) FROM xcom"
        " WHERE dag_id = :dag_id AND run_id = :run_id",
        "rendered_task_instance_fields": "SELECT task_id || ' ' || CAST(rendered_fields AS TEXT)"
        " FROM rendered_task_instance_fields"
        " WHERE dag_id = :dag_id AND run_id = :run_id",
        "hitl_detail": "SELECT CAST(row_to_json(h) AS TEXT) FROM hitl_detail h JOIN task_instance ti"
        " ON ti.id = h.ti_id WHERE ti.dag_id = :dag_id AND ti.run_id = :run_id",
        "dag_run": "SELECT CAST(row_to_json(d) AS TEXT) FROM dag_run d WHERE dag_id = :dag_id"
        " AND run_id = :run_id",
        "log": "SELECT COALESCE(event, '') || ' ' || COALESCE(extra, '') FROM log"
        " WHERE dag_id = :dag_id AND run_id = :run_id",
    }
    with create_session() as session:
        return {
            table: [str(row[0]) for row in session.execute(text(query), {"dag_id": dag_id, "run_id": run_id})]
            for table, query in queries.items()
        }


def business_leaks(business_db: Any, secrets: dict[str, str]) -> dict[str, list[str]]:
    """Secret name -> business tables holding it anywhere in a row (every table, every row)."""
    from psycopg2 import sql

    with business_db.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            " AND table_type = 'BASE TABLE' AND table_name <> 'alembic_version'"
        )
        tables = sorted(row[0] for row in cur.fetchall())
        assert "audit_log" in tables
        found: dict[str, list[str]] = {}
        for table in tables:
            query = sql.SQL("SELECT count(*) FROM {} t WHERE strpos(CAST(row_to_json(t) AS text), %s) > 0")
            for name, value in secrets.items():
                for needle in {value, json.dumps(value)[1:-1]}:
                    cur.execute(query.format(sql.Identifier(table)), (needle,))
                    if cur.fetchone()[0]:
                        found.setdefault(name, []).append(table)
    return found


def test_partner_approval_run_leaks_no_secret(
    dag: Any,  # noqa: F811 - the imported fixture
    sandbox: Any,
    business_db: Any,
    requested: list[dict[str, Any]],  # noqa: F811 - the imported fixture
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets = secret_values()
    caplog.set_level(logging.DEBUG)

    out = run(dag, [MANAGER_OK, LEGAL_OK, accept(1), EXECUTIVE_OK])

    dr, request_id = out.dr, out.request_id
    assert dr.state == "success"
    out, err = capfd.readouterr()
    log_text = "\n".join([out, err, caplog.text])
    # The scan reads real output: the tasks' own log lines and the run's values are in each place scanned.
    assert "approval manager_approval: approved by manager" in log_text
    assert request_id in log_text
    texts = metadata_texts("partner_approval", dr.run_id)
    assert len(texts["xcom"]) >= 5 and texts["rendered_task_instance_fields"], {
        k: len(v) for k, v in texts.items()
    }
    assert any(request_id in row for row in texts["rendered_task_instance_fields"])

    found: dict[str, list[str]] = {}
    for name in leaks(log_text, secrets):
        found.setdefault(name, []).append("run output/log records")
    for table, rows in texts.items():
        for name in leaks("\n".join(rows), secrets):
            found.setdefault(name, []).append(f"metadata {table}")
    for name, tables in business_leaks(business_db, secrets).items():
        found.setdefault(name, []).extend(f"business {t}" for t in tables)

    assert found == {}, f"secrets found: {found}"


def test_webhook_requests_log_no_signature_or_secret(
    app_client: Any, secrets: dict[str, str], tag: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The ingress logs each accepted and refused request; never the signature header or the secret."""
    from include.security.hmac_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
    from tests.plugins.webhooks.webhook_support import esign_body, outside_body

    caplog.set_level(logging.DEBUG)
    signatures = []
    for path, body in (
        ("/esign", esign_body(tag)),
        ("/events/partner", outside_body(tag)),
        ("/esign", {**esign_body(tag), "extra": 1}),
        ("/crm/events", {"event_id": tag}),
    ):
        raw = json.dumps(body).encode()
        ts = int(time.time())
        for secret in (secrets[path], "wrong-secret-value"):
            signature = sign(secret, ts, raw)
            signatures.append(signature.removeprefix("sha256="))
            app_client.post(
                path,
                content=raw,
                headers={
                    "Content-Type": "application/json",
                    TIMESTAMP_HEADER: str(ts),
                    SIGNATURE_HEADER: signature,
                    "X-EP-Delivery-Id": f"dlv-{tag}",
                },
            )
    assert f"dlv-{tag}" in caplog.text  # the requests were logged
    assert [s for s in signatures if s in caplog.text] == []
    assert leaks(caplog.text, {**secret_values(), **{f"route {p}": s for p, s in secrets.items()}}) == []
