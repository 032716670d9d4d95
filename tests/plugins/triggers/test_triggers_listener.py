"""SharedEventListener: one LISTEN connection for many waits, the batched re-check, reconnects, lifecycle."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.triggers.base import TriggerEvent

from execution_plane.triggers.external_event import ExternalEventTrigger
from execution_plane.triggers.listener import SharedEventListener
from tests.plugins.triggers.event_support import CONN_ID, EventTable, wait_until

WAITS = 200


def _trigger(key: str) -> ExternalEventTrigger:
    deadline = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    return ExternalEventTrigger(correlation_key=key, event_types=["signed"], timeout_at=deadline)


async def _first(trigger: ExternalEventTrigger) -> TriggerEvent:
    return await anext(trigger.run())


def _start(trigger: ExternalEventTrigger) -> asyncio.Task[TriggerEvent]:
    return asyncio.create_task(_first(trigger))


def _listener() -> SharedEventListener:
    listener = SharedEventListener.active(CONN_ID)
    assert listener is not None
    return listener


def _connected(waiters: int) -> bool:
    listener = SharedEventListener.active(CONN_ID)
    return listener is not None and listener.server_pid is not None and listener.waiter_count == waiters


@pytest.mark.asyncio
async def test_200_waits_share_one_listen_connection_and_all_wake(event_table: EventTable) -> None:
    keys = [event_table.new_key() for _ in range(WAITS)]
    waiting = [_start(_trigger(key)) for key in keys]
    await wait_until(lambda: _connected(WAITS))
    listener = SharedEventListener.active(CONN_ID)
    assert listener is not None
    await listener._checked_after_now(keys[-1])  # a batched check that covers every key has run: nothing yet
    await asyncio.sleep(0)

    assert not any(task.done() for task in waiting)
    assert event_table.listener_backends() == 1

    event_table.insert_many([(key, "signed") for key in keys])
    events = await asyncio.wait_for(asyncio.gather(*waiting), timeout=30)

    assert [event.payload["event"]["correlation_key"] for event in events] == keys
    assert all(event.payload["status"] == "received" for event in events)
    assert _listener().connects == 1
    assert _listener().notifications >= WAITS


@pytest.mark.asyncio
async def test_recheck_finds_an_event_whose_notify_never_came(
    event_table: EventTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__EXECUTION_PLANE__EVENT_RECHECK_INTERVAL", "0.5")
    key = event_table.new_key()
    waiting = _start(_trigger(key))
    await wait_until(lambda: _connected(1))

    event_id = event_table.insert(key, "signed", notify=False)
    event = await asyncio.wait_for(waiting, timeout=5)

    assert event.payload["event"]["event_id"] == event_id
    assert _listener().notifications == 0


@pytest.mark.asyncio
async def test_reconnects_after_its_backend_is_killed_and_rechecks_at_once(event_table: EventTable) -> None:
    """The row is committed while the listener has no connection, without a NOTIFY, and the periodic
    re-check is 60 s away: only the re-check right after reconnecting can find it."""
    key = event_table.new_key()
    waiting = _start(_trigger(key))
    await wait_until(lambda: _connected(1))
    listener = _listener()
    first_pid = listener.server_pid
    assert first_pid is not None

    gate = asyncio.Event()
    connect = listener._connect

    async def connect_after_gate() -> Any:
        await gate.wait()
        return await connect()

    listener._connect = connect_after_gate  # type: ignore[method-assign]
    event_table.terminate(first_pid)
    await wait_until(lambda: listener.server_pid is None)
    event_id = event_table.insert(key, "signed", notify=False)
    gate.set()

    event = await asyncio.wait_for(waiting, timeout=5)

    assert event.payload["event"]["event_id"] == event_id
    assert listener.connects == 2
    assert listener.server_pid not in (None, first_pid)


@pytest.mark.asyncio
async def test_notifications_work_again_after_a_reconnect(event_table: EventTable) -> None:
    key = event_table.new_key()
    waiting = _start(_trigger(key))
    await wait_until(lambda: _connected(1))
    listener = _listener()
    first_pid = listener.server_pid
    assert first_pid is not None

    event_table.terminate(first_pid)
    await wait_until(lambda: listener.server_pid not in (None, first_pid))
    event_id = event_table.insert(key, "signed")
    event = await asyncio.wait_for(waiting, timeout=5)

    assert event.payload["event"]["event_id"] == event_id
    assert listener.connects == 2
    assert event_table.listener_backends() == 1


@pytest.mark.asyncio
async def test_connection_closes_after_the_last_waiter_leaves(event_table: EventTable) -> None:
    key = event_table.new_key()
    event_table.insert(key, "signed")

    await asyncio.wait_for(_first(_trigger(key)), timeout=5)

    # The idle grace is 0.2 s in these tests; the backend is gone once Postgres saw the connection close.
    await wait_until(lambda: SharedEventListener.active(CONN_ID) is None)
    await wait_until(lambda: event_table.listener_backends() == 0)
    assert event_table.listener_backends() == 0


@pytest.mark.asyncio
async def test_a_new_waiter_within_the_grace_period_reuses_the_connection(event_table: EventTable) -> None:
    first_key, second_key = event_table.new_key(), event_table.new_key()
    event_table.insert(first_key, "signed")
    event_table.insert(second_key, "signed")

    await asyncio.wait_for(_first(_trigger(first_key)), timeout=5)
    listener = _listener()
    await asyncio.wait_for(_first(_trigger(second_key)), timeout=5)

    assert _listener() is listener
    assert listener.connects == 1


@pytest.mark.asyncio
async def test_a_cancelled_trigger_unregisters(event_table: EventTable) -> None:
    waiting = _start(_trigger(event_table.new_key()))
    await wait_until(lambda: _connected(1))

    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting

    assert _listener().waiter_count == 0


@pytest.mark.asyncio
async def test_one_listener_per_event_loop(event_table: EventTable) -> None:
    here = SharedEventListener.for_current_loop(CONN_ID)

    async def in_another_loop() -> SharedEventListener:
        return SharedEventListener.for_current_loop(CONN_ID)

    elsewhere = await asyncio.to_thread(asyncio.run, in_another_loop())

    assert SharedEventListener.for_current_loop(CONN_ID) is here
    assert elsewhere is not here
