"""``python -m execution_plane.catalog``: the inventory printed as a table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from execution_plane.catalog import INVENTORY, SUPPORTING, by_key, disagreements
from execution_plane.catalog.__main__ import REPO_ROOT, implementation_status, main

TESTS_REPO_ROOT = Path(__file__).resolve().parents[3]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(TESTS_REPO_ROOT / "plugins")}
    return subprocess.run(
        [sys.executable, "-m", "execution_plane.catalog", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("args", [(), ("--format", "text"), ("--format", "markdown")], ids=str)
def test_cli_prints_every_key_and_exits_0(args: tuple[str, ...]) -> None:
    result = run_cli(*args)

    assert result.returncode == 0, result.stderr
    for record in INVENTORY:
        assert record.key in result.stdout


def test_markdown_format_is_one_table_row_per_workflow() -> None:
    lines = [line for line in run_cli("--format", "markdown").stdout.splitlines() if line.startswith("|")]

    assert all(line.endswith("|") for line in lines)
    # Two tables (inventory, supporting DAGs), each with a header and a separator line.
    assert len(lines) == 4 + len(INVENTORY) + len(SUPPORTING)
    for record in SUPPORTING:
        assert any(f" {record.key} " in line for line in lines)


def test_text_format_marks_each_disagreement() -> None:
    lines = run_cli().stdout.splitlines()
    keys = {record.key for record in INVENTORY}
    marked = {line.split()[0] for line in lines if line.split() and line.split()[0] in keys and " * " in line}

    assert marked == {record.key for record in disagreements()}
    assert len(marked) == 4


def test_unknown_format_is_refused() -> None:
    result = run_cli("--format", "html")

    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_repo_root_is_the_directory_holding_plugins() -> None:
    assert REPO_ROOT == TESTS_REPO_ROOT


def test_implementation_status_reports_whether_the_dag_file_exists(tmp_path: Path) -> None:
    partner = by_key("partner_approval")

    assert implementation_status(partner, tmp_path) == (
        "dag: partner_approval (dags/partner_approval.py missing)"
    )
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "partner_approval.py").write_text("", encoding="utf-8")
    assert implementation_status(partner, tmp_path) == (
        "dag: partner_approval (dags/partner_approval.py present)"
    )
    assert implementation_status(by_key("lead_scoring"), tmp_path) == "not implemented"


def test_main_returns_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--format", "markdown"]) == 0
    assert "`partner_approval`" in capsys.readouterr().out
