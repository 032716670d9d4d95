"""The project's DAG files and the dag id each defines (layout: docs/adr/0002-one-workflow-one-place.md).

- ``dags/<dag_id>.py``: the toolkit's own DAGs (saga_compensation, saga_reconciler);
- ``dags/workflows/<dag_id>/dag.py``: a workflow's DAG, named after its package;
- ``dags/workflows/<package>/<dag_id>_dag.py``: another DAG of that workflow (e.g. its status poller).

``dags/.airflowignore`` keeps Airflow's DAG processor to exactly these files.
"""

from __future__ import annotations

from pathlib import Path

from devtools.env import REPO

DAGS = REPO / "dags"


def dag_id_of(path: Path) -> str:
    if path.parent == DAGS:
        return path.stem
    if path.name == "dag.py":
        return path.parent.name
    return path.stem.removesuffix("_dag")


def dag_files(dags: Path = DAGS) -> dict[str, Path]:
    """dag id -> DAG file, for every DAG of the project."""
    files = [p for p in dags.glob("*.py") if not p.name.startswith("_")]
    files += sorted((dags / "workflows").glob("*/dag.py")) + sorted((dags / "workflows").glob("*/*_dag.py"))
    found: dict[str, Path] = {}
    for path in sorted(files):
        dag_id = dag_id_of(path)
        if dag_id in found:
            raise ValueError(f"two DAG files for {dag_id}: {found[dag_id]} and {path}")
        found[dag_id] = path
    return found
