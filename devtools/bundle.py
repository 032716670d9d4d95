"""The DAG bundle of a local stack: the shipped GitDagBundle on a local git repository, or the LocalDagBundle.

Production runs the GitDagBundle of ``config/airflow.cfg`` on the project's repository (connection
``dags_git``), so a run keeps the code of the commit it started on. `make run` runs the same bundle, the same
settings, on a local bare repository per profile, ``.local/dag-bundle/<profile>.git``: `make run` commits the
current ``dags/`` of this checkout into it when it starts and again whenever ``dags/`` changes while it runs
(``publish``), so an edit shows up as a new bundle version within the refresh interval, as a deploy would,
and runs already started keep theirs. Why a repository of its own rather than this checkout's ``.git``: the
bundle then sees the working tree (uncommitted edits included) without a commit in the project's history
for each save, and nothing devtools does touches the project's index or branches.

``EP_DAG_BUNDLE=local`` runs Airflow's LocalDagBundle on ``dags/`` instead (unversioned: a run that wakes up
takes whatever is on disk then; tests/e2e/test_versioned_bundle_live.py shows what that breaks).
"""

from __future__ import annotations

import configparser
import fcntl
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools import env as ep_env

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "execution-plane devtools",
    "GIT_AUTHOR_EMAIL": "devtools@execution-plane.invalid",
    "GIT_COMMITTER_NAME": "execution-plane devtools",
    "GIT_COMMITTER_EMAIL": "devtools@execution-plane.invalid",
}


def shipped_bundle() -> dict[str, Any]:
    """The one bundle of ``[dag_processor] dag_bundle_config_list`` in config/airflow.cfg."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(ep_env.AIRFLOW_CONFIG_FILE.read_text())
    bundles = json.loads(parser.get("dag_processor", "dag_bundle_config_list"))
    if len(bundles) != 1:
        raise SystemExit(f"config/airflow.cfg should name one DAG bundle, not {len(bundles)}")
    bundle: dict[str, Any] = bundles[0]
    return bundle


def tracking_ref() -> str:
    return str(shipped_bundle()["kwargs"]["tracking_ref"])


def subdir() -> str:
    return str(shipped_bundle()["kwargs"].get("subdir") or "")


def _git(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        env={**os.environ, **GIT_IDENTITY, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def ensure_repo(repo: Path) -> Path:
    """A bare repository at ``repo`` whose default branch is the shipped tracking ref."""
    if not (repo / "HEAD").exists():
        repo.mkdir(parents=True, exist_ok=True)
        _git(["init", "--quiet", "--bare", f"--initial-branch={tracking_ref()}", str(repo)])
    return repo


@dataclass(frozen=True)
class Published:
    commit: str
    changed: bool


def publish(
    repo: Path | None = None, source_root: Path = ep_env.REPO, message: str | None = None
) -> Published:
    """Commit ``source_root/<subdir>`` (as in that tree, .gitignore honoured) onto the tracking branch of the
    bare repository ``repo`` when it differs from the branch's last commit; the bundle's next refresh picks
    the commit up as a new version. Works through its own index file: ``source_root``'s own git (this
    checkout's index, branches, history) is never touched."""
    repo = ensure_repo(repo or ep_env.dag_bundle_repo())
    folder = subdir()
    branch = f"refs/heads/{tracking_ref()}"
    env = {"GIT_DIR": str(repo), "GIT_WORK_TREE": str(source_root), "GIT_INDEX_FILE": str(repo / "ep-index")}
    with open(repo / "ep-publish.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _git(["read-tree", "--empty"], env)
        _git(["add", "--all", "--", folder or "."], env, cwd=source_root)
        tree = _git(["write-tree"], env)
        try:
            parent: str | None = _git(["rev-parse", "--quiet", "--verify", f"{branch}^{{commit}}"], env)
        except RuntimeError:
            parent = None
        if parent and _git(["rev-parse", f"{parent}^{{tree}}"], env) == tree:
            return Published(parent, changed=False)
        parents = ["-p", parent] if parent else []
        commit = _git(["commit-tree", tree, *parents, "-m", message or source_description(source_root)], env)
        _git(["update-ref", branch, commit, *([parent] if parent else [])], env)
        return Published(commit, changed=True)


def source_description(source_root: Path) -> str:
    """``dags/ of <checkout commit>`` (``+ uncommitted changes`` when dags/ differs from it)."""
    try:
        head = _git(["rev-parse", "--short", "HEAD"], cwd=source_root)
        dirty = _git(["status", "--porcelain", "--", subdir() or "."], cwd=source_root)
    except RuntimeError:
        return f"{subdir() or 'the tree'} of {source_root}"
    return f"{subdir()}/ of {head}" + (" + uncommitted changes" if dirty else "")


def describe() -> str:
    """One line for `make run`: which bundle, where, what it pins."""
    if ep_env.dag_bundle_mode() == "local":
        return (
            f"DAG bundle: LocalDagBundle {ep_env.LOCAL_BUNDLE_NAME!r} on {ep_env.REPO / 'dags'} "
            "(EP_DAG_BUNDLE=local: unversioned, a parked run wakes up on whatever code is on disk)"
        )
    bundle = shipped_bundle()
    repo = ep_env.dag_bundle_repo()
    shown = repo.relative_to(ep_env.REPO) if repo.is_relative_to(ep_env.REPO) else repo
    return (
        f"DAG bundle: GitDagBundle {bundle['name']!r} (config/airflow.cfg) on the local repository {shown}, "
        f"branch {tracking_ref()}, subdir {subdir()}/: dags/ is committed there now and whenever it changes, "
        "each commit a bundle version; a run keeps the version it started with "
        "(EP_DAG_BUNDLE=local for the LocalDagBundle)"
    )
