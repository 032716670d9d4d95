"""What DAG files get from the toolkit while they are parsed: shared defaults, and nothing that only a
running task needs (the dag-processor re-parses every file every few seconds, issue 6: < 50 ms a file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.dag_files import dag_files
from execution_plane.catalog import INVENTORY, SUPPORTING
from execution_plane.defaults import CLASS_TAGS, default_args, tags_for

REPO = Path(__file__).resolve().parents[2]

# Loaded by tasks, triggers and the catalog CLI, never by parsing a DAG file.
TASK_ONLY = (
    "execution_plane.catalog",  # classification: its verdicts are execution_plane.defaults.CLASS_TAGS
    "execution_plane.saga.steps",
    "execution_plane.saga.ledger",
    "execution_plane.triggers.listener",
    "execution_plane.triggers.external_event",
    "psycopg2",
    "asyncpg",
    "fpdf",
    "include.domain",
    "execution_plane.hooks",  # outside systems: reached by steps, never by a DAG file
    # every workflow's business rules (pydantic models, PDF renderers): its steps load them when they run
    *sorted(f"workflows.{p.parent.name}.domain" for p in (REPO / "dags" / "workflows").glob("*/domain")),
)


def test_class_tags_are_the_rule_verdicts_of_every_implemented_workflow() -> None:
    implemented = {
        record.implementation: record.rule_class.tag
        for record in INVENTORY + SUPPORTING
        if record.implementation is not None
    }
    assert implemented == CLASS_TAGS


def test_tags_for_puts_the_class_first() -> None:
    assert tags_for("dd_room", "priority", "deals") == ["class:long-lived-durable", "priority", "deals"]
    assert tags_for("health_check") == ["class:short-lived-local"]


def test_tags_for_an_uncatalogued_dag_raises() -> None:
    with pytest.raises(KeyError, match="no_such_dag"):
        tags_for("no_such_dag")


def test_default_args_take_overrides() -> None:
    args = default_args(retries=5)
    assert args["retries"] == 5
    assert args["owner"] == "execution-plane"
    assert args["retry_exponential_backoff"] is True


def test_the_first_retry_delay_comes_from_airflow_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    assert default_args()["retry_delay"] == timedelta(seconds=10)  # config/airflow.cfg and the code agree
    monkeypatch.setenv("AIRFLOW__EXECUTION_PLANE__RETRY_DELAY", "2.5")
    assert default_args()["retry_delay"] == timedelta(seconds=2.5)
    assert default_args(retry_delay=timedelta(seconds=1))["retry_delay"] == timedelta(seconds=1)


FLOOR_DAG = (
    "from datetime import datetime\n"
    "from airflow.sdk import dag, task\n"
    "@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False)\n"
    "def floor():\n"
    "    @task\n"
    "    def one() -> None:\n"
    "        pass\n"
    "    one()\n"
    "floor()\n"
)


def test_parsing_every_dag_file_loads_no_task_only_module(tmp_path: Path) -> None:
    """Beyond what the smallest @dag + @task file loads in the same environment (Airflow's own imports
    depend on its configuration), no DAG file loads a module only tasks need."""
    floor = tmp_path / "floor_dag.py"
    floor.write_text(FLOOR_DAG)
    code = (
        "import importlib.util, json, sys\n"
        "def load(path):\n"
        "    spec = importlib.util.spec_from_file_location('dag_' + str(abs(hash(path))), path)\n"
        "    module = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(module)\n"
        "load(sys.argv[1])\n"
        "before = set(sys.modules)\n"
        "for path in sys.argv[2:]:\n"
        "    load(path)\n"
        f"task_only = {TASK_ONLY!r}\n"
        "print(json.dumps(sorted(m for m in set(sys.modules) - before if any(m == t or m.startswith(t + '.')"
        " for t in task_only))))\n"
    )
    files = sorted(str(p) for p in dag_files().values())
    assert len(files) >= 7
    assert any(t.endswith(".domain") and t.startswith("workflows.") for t in TASK_ONLY)
    paths = [str(REPO), str(REPO / "plugins"), str(REPO / "dags")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    result = subprocess.run(
        [sys.executable, "-c", code, str(floor), *files],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
