"""`make run` restarts a component that dies, as a process supervisor (systemd, a container runtime) would.

A crash costs seconds, not an operator: a component that exited (the scheduler killed with -9, the
triggerer crashing while Postgres restarts, ...) is restarted after a backoff that grows with its recent
crashes (1, 2, 5, 10, 30 s), each step said in the log; a component that crashed ``max_crashes`` times within
``window_s`` is given up on and the whole stack stops with the reason, because restarting it again would
only hide a fault that needs a person. Every workflow survives the restarts: their state is in the
metadata and business databases, and the chaos suite proves the resumes (tests/chaos).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
MAX_CRASHES = 5
WINDOW_S = 300.0


class StackLike(Protocol):
    procs: dict[str, Any]

    def start_component(self, component: str) -> None: ...


class GiveUp(RuntimeError):
    """A component crashed too often: the stack stops instead of restarting it again."""


@dataclass
class _Pending:
    due: float
    returncode: int | None


@dataclass
class Supervisor:
    stack: StackLike
    restart: Callable[[str], None]
    log: Callable[[str], None]
    components: tuple[str, ...]
    backoff_s: tuple[float, ...] = BACKOFF_S
    max_crashes: int = MAX_CRASHES
    window_s: float = WINDOW_S
    clock: Callable[[], float] = time.monotonic
    crashes: dict[str, list[float]] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    _pending: dict[str, _Pending] = field(default_factory=dict)

    def check(self) -> list[str]:
        """Notice exits, restart what is due; returns the components restarted now.

        :raises GiveUp: a component crashed ``max_crashes`` times within ``window_s``.
        """
        now = self.clock()
        restarted = []
        for name in self.components:
            proc = self.stack.procs.get(name)
            if name not in self._pending and proc is not None and proc.poll() is not None:
                recent = [t for t in self.crashes.get(name, []) if now - t <= self.window_s] + [now]
                self.crashes[name] = recent
                if len(recent) >= self.max_crashes:
                    raise GiveUp(
                        f"{name} exited with {proc.returncode}: {len(recent)} crashes within "
                        f"{self.window_s:.0f} s; giving up and stopping the stack"
                    )
                wait = self.backoff_s[min(len(recent) - 1, len(self.backoff_s) - 1)]
                self._pending[name] = _Pending(now + wait, proc.returncode)
                self.log(
                    f"{name} exited with {proc.returncode} (crash {len(recent)} within "
                    f"{self.window_s:.0f} s); restarting it in {wait:.0f} s"
                )
            pending = self._pending.get(name)
            if pending is not None and now >= pending.due:
                del self._pending[name]
                self.restart(name)
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self.log(f"{name} restarted (restart {self.restarts[name]})")
                restarted.append(name)
        return restarted
