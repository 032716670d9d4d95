"""The app as a whole: what answers without a signature, the error shape, the plugin that mounts it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from execution_plane.webhooks.app import create_app

REPO = Path(__file__).resolve().parents[3]


def test_health_is_the_only_unauthenticated_answer(app_client: TestClient) -> None:
    response = app_client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_no_route_but_health_answers_a_get(app_client: TestClient) -> None:
    get_routes = [
        route.path  # type: ignore[attr-defined]
        for route in create_app().routes
        if "GET" in getattr(route, "methods", set())
    ]

    assert get_routes == ["/health"]


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/", "/crm", "/events"])
def test_unknown_paths_answer_json_404(app_client: TestClient, path: str) -> None:
    response = app_client.get(path)

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "Not Found", "field": None}


@pytest.mark.parametrize("path", ["/crm/events", "/esign", "/events/partner"])
def test_get_on_a_webhook_route_is_json_405(app_client: TestClient, path: str) -> None:
    response = app_client.get(path)

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert response.headers["allow"] == "POST"


def test_plugin_mounts_the_app_under_webhooks() -> None:
    from airflow.api_fastapi.app import RESERVED_URL_PREFIXES

    from execution_plane.plugin import ExecutionPlanePlugin

    assert ExecutionPlanePlugin.name == "execution_plane"
    [entry] = [app for app in ExecutionPlanePlugin.fastapi_apps if app["url_prefix"] == "/webhooks"]
    assert entry["url_prefix"] == "/webhooks"
    assert entry["name"] == "Execution Plane webhooks"
    assert isinstance(entry["app"], FastAPI)
    assert not any(entry["url_prefix"].startswith(prefix) for prefix in RESERVED_URL_PREFIXES)


def test_airflow_mounts_the_plugin_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow's own mounting code (``init_plugins``) serves the app under /webhooks."""
    from airflow import plugins_manager
    from airflow.api_fastapi.app import init_plugins

    from execution_plane.plugin import ExecutionPlanePlugin

    monkeypatch.setattr(
        plugins_manager, "get_fastapi_plugins", lambda: (ExecutionPlanePlugin.fastapi_apps, [])
    )
    root = FastAPI()
    init_plugins(root)

    with TestClient(root) as client:
        assert client.get("/webhooks/health").json() == {"status": "ok"}
        assert (
            client.post(
                "/webhooks/esign", content=b"{}", headers={"Content-Type": "application/json"}
            ).status_code
            == 401
        )


def test_importing_the_plugin_touches_no_database() -> None:
    """Every component imports plugins: with both databases unreachable the import still succeeds."""
    script = textwrap.dedent(
        """
        import execution_plane.plugin
        from execution_plane.webhooks import credentials, db
        assert not db.POOL.opened and credentials._cache == {}
        """
    )
    env: dict[str, Any] = {
        **os.environ,
        "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'plugins'}",
        # Closed port: any connection attempt would fail the import.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://nobody@127.0.0.1:9/none",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False, timeout=120
    )

    assert result.returncode == 0, result.stderr
