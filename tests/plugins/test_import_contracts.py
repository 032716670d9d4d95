"""The import contracts of ``make lint`` (pyproject.toml, [tool.importlinter]) hold, and none holds vacuously:
every module expression they name matches real modules of this repository."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
SEARCH_PATH = [str(REPO), str(REPO / "plugins"), str(REPO / "dags")]


@pytest.fixture(scope="module")
def modules() -> set[str]:
    sys.path[:0] = [p for p in SEARCH_PATH if p not in sys.path]
    graph = grimp.build_graph(*CONFIG["root_packages"])
    return set(graph.modules)


def expressions(contract: dict[str, object]) -> list[str]:
    names: list[str] = []
    for key in ("layers", "source_modules", "modules", "ancestors"):
        value = contract.get(key) or []
        assert isinstance(value, list)
        names += [str(v) for v in value]
    return names


@pytest.mark.parametrize("contract", CONFIG["contracts"], ids=lambda c: c["type"])
def test_every_module_a_contract_names_exists(contract: dict[str, object], modules: set[str]) -> None:
    for expression in expressions(contract):
        pattern = expression.replace("**", "*")
        matched = [m for m in modules if fnmatchcase(m, pattern)]
        assert matched, f"{contract['name']}: {expression} matches no module"


def test_the_workflow_wildcards_reach_every_workflow(modules: set[str]) -> None:
    packages = {p.name for p in (REPO / "dags" / "workflows").iterdir() if (p / "__init__.py").exists()}
    # A short-lived service's workflow package wires a service whose rules live in include/services.
    with_domain = {name for name in packages if (REPO / "dags" / "workflows" / name / "domain").is_dir()}
    assert len(with_domain) >= 4
    assert {f"workflows.{name}" for name in packages} <= modules
    assert {f"workflows.{name}.domain" for name in with_domain} <= modules


def test_lint_imports_passes() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(SEARCH_PATH)}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in result.stdout
