"""bench/parse.py measures every DAG file of the project's layout, each as the DAG processor loads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import parse
from devtools.dag_files import dag_files
from devtools.env import REPO
from devtools.stack import read_state


def test_every_project_dag_file_is_measured_not_only_the_top_level() -> None:
    """The figure covers the workflows' dag.py files (dags/workflows/<name>/), which a glob of dags/*.py
    would miss: the list parse.run measures is the project's list of DAG files."""
    nested = [p for p in dag_files(REPO / "dags").values() if p.parent != REPO / "dags"]
    assert nested, "no workflow DAG under dags/workflows: the layout changed, update bench/parse.py"


def test_a_workflow_dag_is_parsed_with_its_package_importable(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    package = dags / "workflows" / "probe_wf"
    package.mkdir(parents=True)
    (dags / "workflows" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text("VALUE = 1\n")
    # Only an import of its own package: a DAG processor finds it because the bundle folder is on sys.path.
    (package / "dag.py").write_text("from workflows.probe_wf.helper import VALUE\n\nassert VALUE == 1\n")
    env = {k: str(v) for k, v in read_state()["env"].items()}  # type: ignore[union-attr]

    result = parse.run(dags, env, REPO, reps=1)

    [row] = result["files"]
    assert (row["dag_id"], row["file"]) == ("probe_wf", "workflows/probe_wf/dag.py")
    assert 0 <= row["beyond_sdk_ms"] < parse.TARGET_MS and row["samples_beyond_ms"] == [row["beyond_sdk_ms"]]


def test_no_dag_file_is_an_error_not_an_empty_figure(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no DAG file"):
        parse.run(tmp_path, {}, REPO, reps=1)
