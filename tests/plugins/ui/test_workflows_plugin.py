"""The plugin's side of the Workflows page: the app mounted at /workflows and its entry in Airflow's
navigation, read the way Airflow's own plugins endpoint reads it."""

from __future__ import annotations


def test_the_plugin_mounts_the_page_and_puts_it_in_the_navigation() -> None:
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    from execution_plane.plugin import ExecutionPlanePlugin
    from execution_plane.ui.app import URL_PREFIX

    [entry] = [app for app in ExecutionPlanePlugin.fastapi_apps if app["url_prefix"] == URL_PREFIX]
    assert URL_PREFIX == "/workflows"
    paths = {route.path for route in entry["app"].routes}
    assert {"/", "/w/{workflow_id}", "/charts", "/export.csv", "/api/workflows"} <= paths
    [view] = ExecutionPlanePlugin.external_views
    parsed = ExternalViewResponse.model_validate(view)
    assert (parsed.name, parsed.destination, parsed.href) == ("Workflows", "nav", "/workflows/")
    # url_route makes Airflow's UI show the page inside its own frame (at /plugin/workflows), not leave it.
    assert view["url_route"] == "workflows" and view["nav_top_level"] is True
