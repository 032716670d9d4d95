"""The Execution Plane Airflow plugin: mounts the webhook ingress in the API server under ``/webhooks``.

Every component imports plugins (scheduler, dag-processor, triggerer, workers), so this module stays
cheap: building the FastAPI app registers routes and touches no database or connection.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from execution_plane.webhooks.app import create_app


class ExecutionPlanePlugin(AirflowPlugin):
    name = "execution_plane"
    fastapi_apps = [
        {"app": create_app(), "url_prefix": "/webhooks", "name": "Execution Plane webhooks"},
    ]
