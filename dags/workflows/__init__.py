"""The workflows of the inventory, one package each: its DAG file (``dag.py``), its steps with their undos
beside them, and its business rules (``domain``, no Airflow). docs/adr/0002-one-workflow-one-place.md says
why they live here, in the DAG bundle.

Applications register with the toolkit, never the reverse: a workflow's undos register (``@compensation``)
when the module of the step they undo is imported. ``load_compensations`` imports every step module of every
workflow (all but its DAG files and its domain), for the compensation DAG, which may undo any of them.
"""

from __future__ import annotations

import importlib
import pkgutil


def load_compensations() -> list[str]:
    """Import every step module of every workflow (registering its undos); returns the modules' names."""
    loaded = []
    for workflow in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg):
        package = importlib.import_module(f"{__name__}.{workflow}")
        for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
            if module == "dag" or module.endswith("_dag") or module == "domain":
                continue
            loaded.append(importlib.import_module(f"{package.__name__}.{module}").__name__)
    return loaded
