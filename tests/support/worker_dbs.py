"""Databases of its own for each xdist worker of the tests without a live stack.

`make test` runs those tests on both cores (``pytest -n 2``). On one shared metadata database and one shared
business database the two processes saw each other: the compat canaries' scheduler scheduled the other
worker's runs, the ingress's run starter claimed the other's stored requests, a global row count moved with
the other's DAG tests. Each worker now clones the profile's three databases (Airflow's metadata, the business
ledger, the knowledge store), all migrated by ``python -m devtools setup`` just before, into
``<name>_<worker>`` (``airflow_test_gw0``, ...) and points its whole process at the clones: the Airflow
metadata connection, the business and knowledge connections, the business database URL the fixtures hand
out, and so every process a test starts (they inherit the environment).

A clone is ``CREATE DATABASE ... TEMPLATE``: a file copy of the migrated database, dropped and made again at
each session start, so a worker starts from exactly what the setup left. The live and chaos stages run
without xdist and use the profile's own databases (their stacks make further ones of their own).
"""

from __future__ import annotations

import re
from typing import Any

import psycopg2

# One lock for every worker cloning on a server: CREATE DATABASE ... TEMPLATE refuses while anyone else is
# connected to the template, and a clone being made is such a connection for the other worker's clone.
_CLONE_LOCK = 7_202_612_05


def _server_and_db(url: str) -> tuple[str, str]:
    base, _, rest = url.rpartition("/")
    return base, rest.split("?", 1)[0]


def clone(server_url: str, template: str, name: str) -> None:
    """(Re)creates database ``name`` on the server as a copy of ``template``."""
    conn = psycopg2.connect(f"{server_url}/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (_CLONE_LOCK,))
            try:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                # A session left on the template (an earlier run killed mid-test) would refuse the copy.
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                    "pg_backend_pid()",
                    (template,),
                )
                cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            finally:
                cur.execute("SELECT pg_advisory_unlock(%s)", (_CLONE_LOCK,))
    finally:
        conn.close()


def _replace_db(value: str, old: str, new: str) -> str:
    """``value`` with database ``old`` renamed, in a URL (``.../old``, ``.../old?...``) or a JSON field."""
    value = re.sub(rf"/{re.escape(old)}(?=$|[?\"'])", f"/{new}", value)
    return re.sub(rf"(?<=\"){re.escape(old)}(?=\")", new, value)


def for_worker(state: dict[str, Any], worker: str) -> dict[str, Any]:
    """The stack state ``devtools setup`` wrote, with the worker's clones made and put in place of the
    profile's databases everywhere the state names them."""
    values = dict(state["settings_values"])
    env = dict(state["env"])
    meta_url, meta_db = _server_and_db(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    meta_server = meta_url.replace("postgresql+psycopg2://", "postgresql://", 1)  # psycopg2's form
    business_server, business_db = _server_and_db(state["business_db_url"])
    knowledge_db = values["EP_KNOWLEDGE_DB"]
    # Each database of the profile -> (its server, the worker's copy).
    copies = {
        meta_db: (meta_server, f"{meta_db}_{worker}"),
        business_db: (business_server, f"{business_db}_{worker}"),
        knowledge_db: (str(state["knowledge"]["url"]), f"{knowledge_db}_{worker}"),
    }
    for template, (server, name) in copies.items():
        clone(server, template, name)
    values["EP_BUSINESS_DB"] = copies[business_db][1]
    values["EP_KNOWLEDGE_DB"] = copies[knowledge_db][1]
    for old in (meta_db, business_db):
        env = {key: _replace_db(value, old, copies[old][1]) for key, value in env.items()}
    # The metadata clone's connections (loaded by the setup) name the profile's databases: the worker's tasks
    # read them from the environment first, and from here when something asks the metadata database.
    conn = psycopg2.connect(f"{meta_server}/{copies[meta_db][1]}")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for old in (business_db, knowledge_db):
                cur.execute("UPDATE connection SET schema = %s WHERE schema = %s", (copies[old][1], old))
    finally:
        conn.close()
    return {
        **state,
        "env": env,
        "settings_values": values,
        "business_db_url": f"{business_server}/{copies[business_db][1]}",
    }
