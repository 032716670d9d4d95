"""`make run`'s supervisor (devtools.supervisor): restarts a component that died after a growing backoff,
says so, and gives up (the stack stops) on a component that keeps crashing. Real processes, a test clock."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from devtools.supervisor import GiveUp, Supervisor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeStack:
    """Components are real child processes: ``alive`` sleeps, ``dies`` exits at once with code 3."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.started: list[str] = []

    def spawn(self, name: str, *, dies: bool) -> None:
        code = "raise SystemExit(3)" if dies else "import time; time.sleep(60)"
        self.procs[name] = subprocess.Popen([sys.executable, "-c", code])

    def start_component(self, name: str) -> None:
        self.started.append(name)
        self.spawn(name, dies=False)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.kill()
            proc.wait()


@pytest.fixture
def stack() -> Any:
    fake = FakeStack()
    yield fake
    fake.stop()


def test_a_dead_component_is_restarted_after_its_backoff_and_the_log_says_so(stack: FakeStack) -> None:
    clock, lines = Clock(), []
    stack.spawn("scheduler", dies=True)
    stack.spawn("triggerer", dies=False)
    stack.procs["scheduler"].wait()
    sup = Supervisor(
        stack,
        restart=stack.start_component,
        log=lines.append,
        components=("scheduler", "triggerer"),
        clock=clock,
    )

    assert sup.check() == []  # noticed; restart due in 1 s
    assert lines == ["scheduler exited with 3 (crash 1 within 300 s); restarting it in 1 s"]
    clock.now += 1
    assert sup.check() == ["scheduler"]
    assert stack.started == ["scheduler"] and stack.procs["scheduler"].poll() is None
    assert lines[-1] == "scheduler restarted (restart 1)"
    assert sup.check() == []  # the triggerer never died: never touched


def test_the_backoff_grows_with_recent_crashes_and_resets_after_the_window(stack: FakeStack) -> None:
    clock, lines = Clock(), []
    sup = Supervisor(
        stack,
        restart=lambda name: stack.spawn(name, dies=True),
        log=lines.append,
        components=("api-server",),
        clock=clock,
    )
    stack.spawn("api-server", dies=True)
    waits = []
    for _ in range(4):
        stack.procs["api-server"].wait()
        sup.check()
        waits.append(lines[-1].rsplit("in ", 1)[1])
        clock.now += 30
        sup.check()
    assert waits == ["1 s", "2 s", "5 s", "10 s"]
    clock.now += 301  # a quiet window later, a crash is a first crash again
    stack.procs["api-server"].wait()
    sup.check()
    assert lines[-1].endswith("(crash 1 within 300 s); restarting it in 1 s")


def test_a_component_that_keeps_crashing_is_given_up(stack: FakeStack) -> None:
    clock = Clock()
    sup = Supervisor(
        stack,
        restart=lambda name: stack.spawn(name, dies=True),
        log=lambda _: None,
        components=("triggerer",),
        clock=clock,
    )
    stack.spawn("triggerer", dies=True)
    with pytest.raises(GiveUp, match="triggerer exited with 3: 5 crashes within 300 s"):
        for _ in range(10):
            stack.procs["triggerer"].wait()
            sup.check()
            clock.now += 31
            sup.check()
    assert sup.restarts["triggerer"] == 4
