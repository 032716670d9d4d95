"""Fixtures of the compat canaries: the canary DAGs in the metadata DB, a scheduler, Airflow's REST API.

Parsing and deserializing DAGs makes Airflow load its plugins, which executes every ``.py`` under plugins/ as
a top-level module (and mounts the project's webhook app in the API app); the canaries need none of them,
so for this package's tests the plugins folder is an empty one and the plugin caches are reset on both sides.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.plugins.compat import airflow_support as support


def _reset_plugins() -> None:
    from airflow import plugins_manager

    plugins_manager._get_plugins.cache_clear()
    plugins_manager._get_extra_operators_links_plugins.cache_clear()


@pytest.fixture(scope="session")
def no_plugins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    from airflow import settings

    _reset_plugins()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "PLUGINS_FOLDER", str(tmp_path_factory.mktemp("no_plugins")))
        try:
            yield
        finally:
            _reset_plugins()


@pytest.fixture(scope="session")
def canary_dags(no_plugins: None) -> Iterator[dict[str, Any]]:
    """The DAGs of tests/plugins/compat/dags, written to the metadata DB as the dag-processor does."""
    dags = support.sync_canary_dags()
    try:
        yield dags
    finally:
        support.delete_runs()
        support.delete_canary_dags()


@pytest.fixture
def scheduler(canary_dags: dict[str, Any]) -> Iterator[support.Scheduler]:
    """A scheduler that sees only this test's runs of the canary DAGs (the other DAGs paused meanwhile)."""
    support.delete_runs()
    with support.other_dags_paused():
        scheduler = support.Scheduler()
        try:
            yield scheduler
        finally:
            scheduler.close()
            support.delete_runs()


@pytest.fixture(scope="session")
def airflow_api(no_plugins: None) -> Iterator[support.ApiServer]:
    server = support.ApiServer()
    try:
        yield server
    finally:
        server.stop()
