"""Every benchmark result records the commit it measured (and whether the tree had changes on top), the
Airflow version and the CPU model: bench/provenance.py, and bench.run putting them in the files it writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import provenance, run
from devtools import env as ep_env


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    git(tmp_path, "add", "a.py")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one")
    return tmp_path


def test_git_state_of_a_clean_tree(repo: Path) -> None:
    assert provenance.git_state(repo) == {
        "commit": git(repo, "rev-parse", "HEAD"),
        "dirty": False,
        "changed_paths": 0,
    }


def test_git_state_counts_modified_and_untracked_files(repo: Path) -> None:
    (repo / "a.py").write_text("x = 2\n")
    (repo / "new.py").write_text("y = 1\n")

    state = provenance.git_state(repo)

    assert (state["dirty"], state["changed_paths"]) == (True, 2)
    assert state["commit"] == git(repo, "rev-parse", "HEAD")


def test_outside_a_checkout_the_commit_is_unknown_and_says_why(tmp_path: Path) -> None:
    state = provenance.git_state(tmp_path)

    assert (state["commit"], state["dirty"], state["changed_paths"]) == (None, None, None)
    assert state["error"].startswith("no git state: ")


def test_cpu_model_is_the_model_name_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: X\nmodel name\t: Example CPU @ 2.0GHz\nflags\t\t: a b\n")

    assert provenance.cpu_model(cpuinfo) == "Example CPU @ 2.0GHz"


def test_airflow_version_is_the_installed_airflow() -> None:
    import airflow

    assert provenance.airflow_version() == airflow.__version__


def test_a_run_writes_the_provenance_into_both_result_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench.run.main cut down to the parse figure (stubbed: no stack, no database), writing into tmp_path."""
    monkeypatch.setattr(ep_env, "profile", lambda: "bench")
    state = {
        "postgres": {"kind": "local", "url": "postgresql://unused"},
        "env": {"AIRFLOW_HOME": str(tmp_path)},
    }
    monkeypatch.setattr(run, "read_state", lambda: state)
    monkeypatch.setattr(sys, "path", list(sys.path))  # main() puts plugins/ first
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    parsed = {
        "sdk_alone_ms": {"best": 1000.0, "median": 1010.0},
        "floor_dag_beyond_sdk_ms": 30.0,
        "reps": 1,
        "target_ms": 50.0,
        "files": [{"file": "a.py", "beyond_sdk_ms": 20.0, "ratio_total_vs_sdk_alone": 1.02}],
    }
    monkeypatch.setattr(run.parse, "run", lambda *args: parsed)
    real_write = run.write
    monkeypatch.setattr(run, "write", lambda results, stamp: real_write(results, stamp, tmp_path))

    assert run.main(["--only", "parse"]) == 0

    [json_file] = tmp_path.glob("bench-*.json")
    written = json.loads(json_file.read_text())
    head = git(ep_env.REPO, "rev-parse", "HEAD")
    dirty = bool(git(ep_env.REPO, "status", "--porcelain"))
    assert written["code"]["git"]["commit"] == head
    assert written["code"]["git"]["dirty"] is dirty
    assert written["code"]["airflow_version"] == provenance.airflow_version()
    assert written["machine"]["cpu_model"] == provenance.cpu_model()
    assert written["machine"]["cpu_model"] not in ("", "unknown")
    md = json_file.with_suffix(".md").read_text()
    assert f"Code: commit `{head[:12]}`" in md
    assert f"Airflow {provenance.airflow_version()}; CPU {provenance.cpu_model()}." in md
    assert (tmp_path / "latest.json").read_text() == json_file.read_text()
