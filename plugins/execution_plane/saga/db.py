"""Connections to the business database, from the Airflow connection ``execution_plane_db``.

Always psycopg2, whatever driver PostgresHook would pick: the ledger relies on psycopg2's
``with conn:`` = one transaction (psycopg 3 closes the connection there instead).
"""

from __future__ import annotations

from typing import Any

BUSINESS_DB_CONN_ID = "execution_plane_db"


def connect(conn_id: str = BUSINESS_DB_CONN_ID, *, application_name: str = "execution_plane") -> Any:
    # Here, not at the top: DAG files import the toolkit while they are parsed, and only tasks connect.
    import psycopg2
    from airflow.sdk import BaseHook

    from execution_plane.pgpool import connect_kwargs

    conn = BaseHook.get_connection(conn_id)
    return psycopg2.connect(**connect_kwargs(conn, application_name, connect_timeout=10))
