"""``connections.WarmHook``: one hook reused between a service's calls, made anew (the old one closed) once it
is older than the connections' TTL, so a changed connection is picked up."""

from __future__ import annotations

import threading

import pytest

from execution_plane.services import connections


class FakeHook:
    made = 0

    def __init__(self) -> None:
        FakeHook.made += 1
        self.number = FakeHook.made
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_the_same_hook_until_it_is_older_than_the_ttl_then_a_new_one(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(connections.time, "monotonic", lambda: now[0])
    FakeHook.made = 0
    warm = connections.WarmHook(FakeHook)

    first = warm.get()
    now[0] += connections.TTL_S - 1
    assert warm.get() is first and FakeHook.made == 1 and not first.closed

    now[0] += 2  # older than the TTL: a changed connection is read again
    second = warm.get()
    assert second is not first and second.number == 2
    assert first.closed and not second.closed
    assert warm.get() is second


def test_concurrent_callers_share_one_hook() -> None:
    FakeHook.made = 0
    warm = connections.WarmHook(FakeHook)
    got: list[FakeHook] = []
    threads = [threading.Thread(target=lambda: got.append(warm.get())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len({id(h) for h in got}) == 1 and FakeHook.made == 1
