"""The order `make test` hands test files to its xdist workers (tests/support/file_order.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import file_order


@dataclass
class Item:
    nodeid: str


def ids(items: list[Item]) -> list[str]:
    return [i.nodeid for i in items]


def test_files_go_longest_first_and_keep_their_tests_order() -> None:
    items = [
        Item("d/a.py::t1"),
        Item("d/a.py::t2"),
        Item("d/b.py::t1"),
        Item("d/c.py::t1"),
        Item("d/b.py::t2"),
    ]
    got = file_order.ordered(items, {"d/a.py": 5.0, "d/b.py": 300.0, "d/c.py": 40.0})  # type: ignore[arg-type]
    assert ids(got) == ["d/b.py::t1", "d/b.py::t2", "d/c.py::t1", "d/a.py::t1", "d/a.py::t2"]  # type: ignore[arg-type]


def test_a_file_not_measured_counts_as_the_median_file() -> None:
    items = [Item("d/new.py::t"), Item("d/short.py::t"), Item("d/mid.py::t"), Item("d/long.py::t")]
    seconds = {"d/short.py": 1.0, "d/mid.py": 10.0, "d/long.py": 100.0}
    got = file_order.ordered(items, seconds)  # type: ignore[arg-type]
    # new.py ties with mid.py (the median) and was collected first.
    assert ids(got) == ["d/long.py::t", "d/new.py::t", "d/mid.py::t", "d/short.py::t"]  # type: ignore[arg-type]


def test_a_lone_file_of_its_directory_goes_before_the_groups() -> None:
    """The live stage: the e2e modules share their package's stack; the embedded-Postgres test, alone in its
    directory, must not run between two of them (the stack would stop and start again)."""
    items = [
        Item("tests/devtools/test_pg.py::t"),
        Item("tests/e2e/test_a.py::t"),
        Item("tests/e2e/test_b.py::t"),
    ]
    seconds = {"tests/devtools/test_pg.py": 80.0, "tests/e2e/test_a.py": 200.0, "tests/e2e/test_b.py": 30.0}
    got = file_order.ordered(items, seconds)  # type: ignore[arg-type]
    assert ids(got) == ["tests/devtools/test_pg.py::t", "tests/e2e/test_a.py::t", "tests/e2e/test_b.py::t"]  # type: ignore[arg-type]


def test_no_table_keeps_the_collection_order() -> None:
    items = [Item("d/b.py::t"), Item("d/a.py::t")]
    assert ids(file_order.ordered(items, {})) == ["d/b.py::t", "d/a.py::t"]  # type: ignore[arg-type]


def test_the_shipped_table_measures_every_test_file_it_names(pytestconfig: pytest.Config) -> None:
    table = file_order.load()
    assert len(table) > 50, "tests/file_seconds.json: measure it with `make test` (--file-seconds)"
    missing = [name for name in table if not (file_order.REPO / name).is_file()]
    assert missing == [], f"tests/file_seconds.json names files that are gone: {missing}"
    assert all(value >= 0 for value in table.values())


@dataclass
class Report:
    nodeid: str
    duration: float


def test_the_recorder_sums_each_files_reports_and_merges_into_the_table(tmp_path: Path) -> None:
    path = tmp_path / "seconds.json"
    path.write_text(json.dumps({"old.py": 7.0, "a.py": 1.0}))
    recorder = file_order.Recorder(path)
    for nodeid, duration in [("a.py::t1", 2.0), ("a.py::t1", 30.0), ("b.py::t[x]", 0.5), ("a.py::t2", 1.0)]:
        recorder.pytest_runtest_logreport(Report(nodeid, duration))  # type: ignore[arg-type]
    recorder.pytest_sessionfinish(None)  # type: ignore[arg-type]
    assert json.loads(path.read_text()) == {"a.py": 33.0, "b.py": 0.5, "old.py": 7.0}
