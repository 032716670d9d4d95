"""Fixtures for the external-event trigger tests: the REAL test business database, NOTIFY trigger included.

Each test gets unique correlation keys and its rows are deleted afterwards. The Airflow connection the
listener resolves is given as ``AIRFLOW_CONN_EXECUTION_PLANE_DB`` (the SDK's environment backend), the same
``Connection.async_get`` path the triggerer takes. The periodic re-check is pushed out to 60 s unless a test
shortens it, so a wake-up within seconds proves the NOTIFY path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from execution_plane.triggers.listener import SharedEventListener
from tests.plugins.triggers.event_support import CONN_ID, EventTable


@pytest.fixture
def events(business_db: Any, business_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[EventTable]:
    monkeypatch.setenv("AIRFLOW_CONN_EXECUTION_PLANE_DB", business_db_url)
    monkeypatch.setenv("AIRFLOW__EXECUTION_PLANE__EVENT_RECHECK_INTERVAL", "60")
    monkeypatch.setenv("AIRFLOW__EXECUTION_PLANE__EVENT_LISTENER_IDLE_GRACE", "0.2")
    table = EventTable(business_db)
    try:
        yield table
    finally:
        table.delete_rows()


@pytest_asyncio.fixture
async def event_table(events: EventTable) -> AsyncIterator[EventTable]:
    """``events`` for async tests; stops this loop's listener afterwards: no connection outlives the test."""
    yield events
    listener = SharedEventListener.active(CONN_ID)
    if listener is not None:
        await listener.aclose()
