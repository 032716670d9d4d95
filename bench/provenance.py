"""What a benchmark result was measured on: the code (git commit, and whether the working tree differed from
it), the Airflow version and the CPU. Every result file records it, so two results are compared knowing what
ran where; read once, when the run starts (the code measured is the code of that moment).
"""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any


def git_state(repo: Path) -> dict[str, Any]:
    """``{"commit", "dirty", "changed_paths"}``; outside a git checkout, None and the reason instead."""
    try:
        commit = _git(repo, "rev-parse", "HEAD").strip()
        # Untracked files count: a new module that is not committed yet runs as much as a modified one.
        changed = [line for line in _git(repo, "status", "--porcelain").splitlines() if line.strip()]
    except (OSError, subprocess.CalledProcessError) as exc:
        return {"commit": None, "dirty": None, "changed_paths": None, "error": f"no git state: {exc}"}
    return {"commit": commit, "dirty": bool(changed), "changed_paths": len(changed)}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=30
    ).stdout


def airflow_version() -> str:
    """The installed apache-airflow distribution (the stack's processes run the same virtualenv)."""
    return metadata.version("apache-airflow")


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what the platform reports, else "unknown"."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def collect(repo: Path) -> dict[str, Any]:
    return {"git": git_state(repo), "airflow_version": airflow_version(), "cpu_model": cpu_model()}
