"""Fixtures for the sensor tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow import plugins_manager, settings

from tests.plugins.triggers.event_support import EventTable


@pytest.fixture
def isolated_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Deserializing a DAG makes Airflow load its plugins, which executes every ``.py`` under plugins/ as a
    top-level module; these tests need none of them, so the scan looks at an empty folder, and the plugin
    caches are reset on both sides so later tests load the real plugins."""

    def reset() -> None:
        plugins_manager._get_plugins.cache_clear()
        plugins_manager._get_extra_operators_links_plugins.cache_clear()

    reset()
    monkeypatch.setattr(settings, "PLUGINS_FOLDER", str(tmp_path))
    try:
        yield
    finally:
        reset()


@pytest.fixture
def events(business_db: Any, business_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[EventTable]:
    monkeypatch.setenv("AIRFLOW_CONN_EXECUTION_PLANE_DB", business_db_url)
    table = EventTable(business_db)
    try:
        yield table
    finally:
        table.delete_rows()
