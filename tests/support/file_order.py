"""Longest test files first, so the two xdist workers of a `make test` stage finish together.

`make test` distributes whole files (``--dist loadfile``: a file's tests, and its live stack, on one worker).
xdist hands the files out in the order it is given and, by default, reorders them by their number of tests,
which says nothing about their time: a live module of 3 tests can take 4 minutes, and handed out last it runs
alone while the other worker idles. ``--no-loadscope-reorder`` keeps the collection order, and this plugin
makes that order "longest measured first" (the classic longest-processing-time rule), from
``tests/file_seconds.json``: each test file's seconds (setup, call and teardown of its tests, so a module's
stack start counts) as measured by a `make test` run with ``--file-seconds=PATH`` (one word: given as two,
pytest takes PATH for a test path before it knows the option, and then does not know it). A file not in it
(a new one) counts as the median file. Refresh the table after adding long tests: ``cp
.local/test-file-seconds.json tests/file_seconds.json`` after a `make test` (the Makefile records there).

The order is the same on every worker (xdist checks that both collected the same list), and only under xdist:
a plain ``pytest`` keeps the testpaths order.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import Counter, defaultdict
from pathlib import Path

import pytest

TABLE = Path(__file__).resolve().parents[1] / "file_seconds.json"
REPO = TABLE.parents[1]


def load(path: Path = TABLE) -> dict[str, float]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return {str(k): float(v) for k, v in data.items()}


def ordered(items: list[pytest.Item], seconds: dict[str, float]) -> list[pytest.Item]:
    """``items`` with their files in decreasing measured time; ties (and a file's tests) keep their order.

    A file that is the only one of its directory among ``items`` goes first: a directory's files share its
    package-scoped fixtures (tests/e2e's live stack), which a worker would stop and start again if another
    directory's file ran between two of them; a lone file shares nothing, so a worker runs it before
    starting a group (in the live stage: tests/devtools' embedded-Postgres test before the e2e modules)."""
    if not seconds:
        return list(items)
    default = statistics.median(seconds.values())
    first_seen: dict[str, int] = {}
    for item in items:
        first_seen.setdefault(file_of(item.nodeid), len(first_seen))
    per_dir = Counter(name.rsplit("/", 1)[0] for name in first_seen)

    def key(item: pytest.Item) -> tuple[bool, float, int]:
        name = file_of(item.nodeid)
        grouped = per_dir[name.rsplit("/", 1)[0]] > 1
        return grouped, -seconds.get(name, default), first_seen[name]

    return sorted(items, key=key)


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--file-seconds",
        default=None,
        metavar="PATH",
        help="merge each test file's measured seconds into PATH (JSON) at the end of the session",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items[:] = ordered(items, load())


class Recorder:
    """Each file's seconds from the test reports (on the xdist controller: every worker's reports)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[file_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.seconds:
            return
        merged = load(self.path)
        merged.update({name: round(value, 1) for name, value in self.seconds.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(dict(sorted(merged.items())), indent=1) + "\n")


def configure(config: pytest.Config) -> None:
    """Register the recorder when asked for, on the controller only (workers' reports reach it)."""
    path = config.getoption("--file-seconds")
    if path and not os.environ.get("PYTEST_XDIST_WORKER"):
        config.pluginmanager.register(Recorder(Path(path)), "file-seconds-recorder")
