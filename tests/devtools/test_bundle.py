"""devtools.bundle: `make run` commits dags/ into the local repository the shipped GitDagBundle tracks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devtools import bundle
from devtools import env as ep_env


def git(*args: str, cwd: Path | None = None, git_dir: Path | None = None) -> str:
    prefix = ["git", *(["--git-dir", str(git_dir)] if git_dir else [])]
    result = subprocess.run([*prefix, *args], cwd=cwd, capture_output=True, text=True, check=True)
    return result.stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A project checkout with a committed dags/ and ignored files in it."""
    root = tmp_path / "checkout"
    (root / "dags" / "workflows" / "probe").mkdir(parents=True)
    (root / "dags" / "workflows" / "probe" / "dag.py").write_text("VERSION = 1\n")
    (root / "dags" / "workflows" / "probe" / "__pycache__").mkdir()
    (root / "dags" / "workflows" / "probe" / "__pycache__" / "dag.cpython-311.pyc").write_bytes(b"\0")
    (root / "README.md").write_text("not in the bundle\n")
    (root / ".gitignore").write_text("__pycache__/\n")
    git("init", "--quiet", "--initial-branch=trunk", cwd=root)
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", ".", cwd=root)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "first", cwd=root)
    return root


def test_publish_commits_the_dags_folder_once_per_change(checkout: Path, tmp_path: Path) -> None:
    repo = tmp_path / "bundle.git"
    first = bundle.publish(repo, source_root=checkout)
    assert first.changed
    branch = bundle.tracking_ref()
    assert git("rev-parse", f"refs/heads/{branch}", git_dir=repo) == first.commit
    # Only the bundle's subdir, as laid out in the checkout (the shipped subdir), .gitignore honoured.
    files = git("ls-tree", "-r", "--name-only", first.commit, git_dir=repo).splitlines()
    assert files == [f"{bundle.subdir()}/workflows/probe/dag.py"]
    assert git("log", "-1", "--format=%s", first.commit, git_dir=repo).startswith("dags/ of ")

    assert bundle.publish(repo, source_root=checkout) == bundle.Published(first.commit, changed=False)

    (checkout / "dags" / "workflows" / "probe" / "dag.py").write_text("VERSION = 2\n")
    second = bundle.publish(repo, source_root=checkout)
    assert second.changed and second.commit != first.commit
    assert git("rev-parse", f"{second.commit}^", git_dir=repo) == first.commit  # history kept: runs pin it
    assert git("show", f"{second.commit}:dags/workflows/probe/dag.py", git_dir=repo) == "VERSION = 2"
    assert git("log", "-1", "--format=%s", second.commit, git_dir=repo).endswith("+ uncommitted changes")
    # The checkout's own git is untouched: nothing staged, no commit, no branch.
    assert git("status", "--porcelain", cwd=checkout) == "M dags/workflows/probe/dag.py"
    assert git("rev-list", "--count", "HEAD", cwd=checkout) == "1"
    assert git("branch", "--format=%(refname:short)", cwd=checkout) == "trunk"


def test_the_bundle_mode_decides_what_every_process_gets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EP_DAG_BUNDLE", raising=False)
    env = ep_env.dag_bundle_env()
    # git (default): the shipped bundle list, its connection pointing at the profile's repository.
    assert "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST" not in env
    assert str(ep_env.dag_bundle_repo()) in env["AIRFLOW_CONN_DAGS_GIT"]
    assert bundle.shipped_bundle()["kwargs"]["git_conn_id"] == "dags_git"
    assert "GitDagBundle" in bundle.describe()
    monkeypatch.setenv("EP_DAG_BUNDLE", "local")
    env = ep_env.dag_bundle_env()
    assert "LocalDagBundle" in env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"]
    assert "LocalDagBundle" in bundle.describe()
    monkeypatch.setenv("EP_DAG_BUNDLE", "gitt")
    with pytest.raises(SystemExit, match="EP_DAG_BUNDLE must be one of git, local"):
        ep_env.dag_bundle_mode()
