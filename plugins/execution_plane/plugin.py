"""The Execution Plane Airflow plugin: mounts the webhook ingress in the API server under ``/webhooks``, the
short-lived workflows as services under ``/services`` and the Workflows page under ``/workflows`` (both behind
Airflow's own auth; the page is in Airflow's navigation); in the scheduler, installs the compat patches that
live there (``execution_plane.compat.scheduler``); in the API server, marking a run locks it first
(``execution_plane.compat.mark_run_lock``); in the triggerer, the scheduler and the API server, a trigger's
end event stores its XComs as a task's own (``execution_plane.compat.trigger_xcoms``).

Every component imports plugins (scheduler, dag-processor, triggerer, workers), so this module stays
cheap: building the FastAPI apps registers routes and touches no database or connection.
"""

from __future__ import annotations

import sys

from airflow.plugins_manager import AirflowPlugin

from execution_plane.compat.mark_run_lock import install_if_api_server
from execution_plane.compat.scheduler import install_if_scheduler
from execution_plane.compat.trigger_xcoms import install_if_component as install_trigger_xcoms
from execution_plane.services.app import create_app as create_services_app
from execution_plane.ui import app as workflows_page
from execution_plane.webhooks.app import create_app

install_if_scheduler(sys.argv)
install_if_api_server(sys.argv)
install_trigger_xcoms(sys.argv)


class ExecutionPlanePlugin(AirflowPlugin):
    name = "execution_plane"
    fastapi_apps = [
        {"app": create_app(), "url_prefix": "/webhooks", "name": "Execution Plane webhooks"},
        {"app": create_services_app(), "url_prefix": "/services", "name": "Execution Plane services"},
        {
            "app": workflows_page.create_app(),
            "url_prefix": workflows_page.URL_PREFIX,
            "name": "Execution Plane workflows page",
        },
    ]
    external_views = [workflows_page.external_view()]
