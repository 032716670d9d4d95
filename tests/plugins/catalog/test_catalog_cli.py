"""``python -m execution_plane.catalog``: the inventory printed as a table."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from execution_plane.catalog import INVENTORY, SUPPORTING, by_key
from execution_plane.catalog.__main__ import REPO_ROOT, implementation_status, main
from tests.plugins.catalog.spec_facts import DISAGREEING, SPEC, SUPPORTING_KEYS

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
    for key in [*SPEC, *SUPPORTING_KEYS]:
        assert key in result.stdout


def test_markdown_format_is_one_table_row_per_workflow() -> None:
    lines = [line for line in run_cli("--format", "markdown").stdout.splitlines() if line.startswith("|")]

    assert all(line.endswith("|") for line in lines)
    # Two tables (inventory, supporting DAGs), each with a header and a separator line.
    assert len(SPEC) == 22
    assert len(lines) == 2 + len(SPEC) + 2 + len(SUPPORTING_KEYS)
    keys = [line.split("|")[1].strip().strip("`") for line in lines]
    assert keys == ["Key", "---", *SPEC, "Key", "---", *SUPPORTING_KEYS]


def test_text_format_marks_each_disagreement() -> None:
    lines = run_cli().stdout.splitlines()
    marked = {line.split()[0] for line in lines if line.split() and line.split()[0] in SPEC and " * " in line}

    assert marked == set(DISAGREEING)


def test_unknown_format_is_refused() -> None:
    result = run_cli("--format", "html")

    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_repo_root_is_the_directory_holding_plugins() -> None:
    assert REPO_ROOT == TESTS_REPO_ROOT


def test_implementation_status_reports_whether_the_dag_file_exists(tmp_path: Path) -> None:
    partner = by_key("partner_approval")

    assert implementation_status(partner, tmp_path) == (
        "dag: partner_approval (dags/workflows/partner_approval/dag.py missing)"
    )
    (tmp_path / "dags" / "workflows" / "partner_approval").mkdir(parents=True)
    (tmp_path / "dags" / "workflows" / "partner_approval" / "dag.py").write_text("", encoding="utf-8")
    assert implementation_status(partner, tmp_path) == (
        "dag: partner_approval (dags/workflows/partner_approval/dag.py present)"
    )
    poller = next(r for r in SUPPORTING if r.implementation == "esign_status_poller")
    assert implementation_status(poller, tmp_path).endswith("missing)")
    (tmp_path / "dags" / "workflows" / "signature_commitment").mkdir()
    (tmp_path / "dags" / "workflows" / "signature_commitment" / "esign_status_poller_dag.py").write_text("")
    assert implementation_status(poller, tmp_path) == (
        "dag: esign_status_poller (dags/workflows/signature_commitment/esign_status_poller_dag.py present)"
    )
    no_dag = dataclasses.replace(by_key("lead_scoring"), implementation=None)
    assert implementation_status(no_dag, tmp_path) == "not implemented"


def test_every_workflow_of_the_inventory_has_its_dag_file_in_the_repository() -> None:
    """What `make catalog` shows: no row "not implemented", no DAG file missing."""
    status = {record.key: implementation_status(record, REPO_ROOT) for record in [*INVENTORY, *SUPPORTING]}

    assert {key: s for key, s in status.items() if not s.endswith(" present)")} == {}


def test_main_returns_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--format", "markdown"]) == 0
    assert "`partner_approval`" in capsys.readouterr().out
