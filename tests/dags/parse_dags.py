"""Parse each DAG file on its own, in a process with NO reachable database and no connections.

Prints one JSON document: per DAG file (by the dag id its name says), the DAGs found, import errors,
warnings raised while importing, and the parse time. A DAG that touches the database, a Variable or a
Connection at import time fails here (the metadata URL points at a closed port).
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path


def main(dag_folder: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from devtools.dag_files import dag_files
    from execution_plane.sensors.external_event import ExternalEventSensor

    # As Airflow's bundle DAG bag does: the bundle's root is importable (the workflows' packages). This
    # script's own folder (tests/dags, first on sys.path) holds the tests' `workflows` package: not that one.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != here]
    sys.path.append(str(dag_folder))
    report: dict[str, dict[str, object]] = {}
    for expected_dag_id, path in dag_files(dag_folder).items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            started = time.perf_counter()
            bag = DagBag(dag_folder=str(path), safe_mode=False, load_op_links=False)
            elapsed = time.perf_counter() - started
        report[expected_dag_id] = {
            "file": str(path.relative_to(dag_folder)),
            "seconds": round(elapsed, 4),
            "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
            "warnings": [
                f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
                for w in caught
                if issubclass(w.category, DeprecationWarning | PendingDeprecationWarning | FutureWarning)
                and str(dag_folder) in str(w.filename)
            ],
            "dags": {
                dag_id: {
                    "tags": sorted(dag.tags),
                    "owner": dag.owner,
                    "catchup": dag.catchup,
                    "doc_md": bool(dag.doc_md and dag.doc_md.strip()),
                    "max_active_runs": dag.max_active_runs,
                    "params": {name: dag.params.get_param(name).schema for name in dag.params},
                    "tasks": {
                        t.task_id: {
                            "retries": t.retries,
                            "retry_exponential_backoff": bool(t.retry_exponential_backoff),
                            "owner": t.owner,
                            # An outside-event wait: whether it ends its task without a worker.
                            "event_wait_ends_task": t.end_task
                            if isinstance(t, ExternalEventSensor)
                            else None,
                        }
                        for t in dag.tasks
                    },
                }
                for dag_id, dag in bag.dags.items()
            },
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
