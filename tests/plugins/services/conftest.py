"""Fixtures of the services route tests: the services app mounted as the API server mounts it, beside
Airflow's own ``/auth`` app (the real ``POST /auth/token`` login), and tokens for each kind of caller.

Everything runs against the profile's real business database and the sandbox of outside systems (the LLM
connection points at it). Each test marks its keys with a fresh ``tag``; rows carrying it are deleted
afterwards (audit rows are append-only and stay: they are valid links of the chain).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from execution_plane.services import db
from execution_plane.services.app import create_app

PREFIX = "/services"


@pytest.fixture(scope="session")
def services_client(sandbox_server: Any) -> Iterator[TestClient]:
    from airflow.api_fastapi.app import init_auth_manager, lifespan

    root = FastAPI(lifespan=lifespan)  # Airflow's: it starts the mounted apps' lifespans (services warm-up)
    init_auth_manager(root)  # mounts Airflow's /auth app (POST /auth/token), as the API server does
    root.mount(PREFIX, create_app())
    with TestClient(root) as client:
        yield client
    db.close_pool()


def _password(user: str) -> str:
    with open(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]) as f:
        return str(json.load(f)[user])


@pytest.fixture(scope="session")
def tokens(services_client: TestClient) -> dict[str, str]:
    """Bearer tokens: ``admin``, ``service`` (op), ``user`` (an approver) logged in through ``/auth/token``;
    ``viewer`` (read-only role) and ``no_role`` (a user the auth manager grants nothing), issued by the
    auth manager itself (the configured users have neither role)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    found = {}
    for name, user in (("admin", "admin"), ("service", "ep_service"), ("user", "manager")):
        response = services_client.post("/auth/token", json={"username": user, "password": _password(user)})
        assert response.status_code == 201, response.text
        found[name] = response.json()["access_token"]
    manager = get_auth_manager()
    found["viewer"] = manager.generate_jwt(SimpleAuthManagerUser(username="reader", role="viewer"))
    found["no_role"] = manager.generate_jwt(SimpleAuthManagerUser(username="nobody", role=None))
    return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def fresh_connections() -> Iterator[None]:
    """Tests change connections (a system pointed at a closed port): no lookup cached across tests."""
    from execution_plane.services import connections

    connections.clear()
    yield
    connections.clear()


@pytest.fixture
def tag(business_db: Any) -> Iterator[str]:
    value = uuid.uuid4().hex[:12]
    yield value
    with business_db.cursor() as cur:
        cur.execute("DELETE FROM lead_scores WHERE lead_key LIKE %s", (f"%{value}%",))
        cur.execute("DELETE FROM trust_scores WHERE subject_id LIKE %s", (f"%{value}%",))
        cur.execute("DELETE FROM outside_calls WHERE detail LIKE %s", (f"%{value}%",))


def count(business_db: Any, sql: str, *args: Any) -> int:
    with business_db.cursor() as cur:
        cur.execute(sql, args)
        return int(cur.fetchone()[0])
