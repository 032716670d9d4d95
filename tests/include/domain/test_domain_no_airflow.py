"""Domain code is pure business logic: include/domain (shared) and every workflow's ``domain`` package must
never import Airflow, directly or transitively (``make lint``'s import contracts say the same)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DOMAIN_DIRS = [REPO / "include" / "domain", *sorted((REPO / "dags" / "workflows").glob("*/domain"))]


def domain_sources() -> list[Path]:
    return sorted(p for folder in DOMAIN_DIRS for p in folder.rglob("*.py"))


def airflow_imports(source: str, label: str) -> list[str]:
    """Every `import airflow...`, `from airflow... import`, `__import__/import_module("airflow...")`."""
    hits: list[str] = []
    for node in ast.walk(ast.parse(source, filename=label)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) in ("__import__", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        hits += [f"{label}:{getattr(node, 'lineno', 0)}: {n}" for n in names if n.split(".")[0] == "airflow"]
    return hits


def test_domain_sources_exist() -> None:
    assert len(DOMAIN_DIRS) >= 4
    assert len(domain_sources()) >= 10


def test_no_airflow_import_in_domain_sources() -> None:
    hits = [
        h
        for p in domain_sources()
        for h in airflow_imports(p.read_text(encoding="utf-8"), str(p.relative_to(REPO)))
    ]
    assert hits == [], "Airflow imported by domain code:\n" + "\n".join(hits)


def test_scanner_detects_every_import_form() -> None:
    # Guard against a scanner that silently passes everything.
    probe = (
        "import airflow.sdk\n"
        "from airflow.providers.standard import x\n"
        "import importlib\n"
        "importlib.import_module('airflow.models')\n"
        "__import__('airflow')\n"
        "import airflowish\n"
    )
    assert len(airflow_imports(probe, "probe.py")) == 4


def test_importing_domain_does_not_load_airflow() -> None:
    code = (
        "import sys\n"
        "import include.domain.common, include.domain.documents, workflows.partner_approval.domain\n"
        "import workflows.dd_room.domain, workflows.signature_commitment.domain\n"
        "import workflows.health_check.domain\n"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "dags")])}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
