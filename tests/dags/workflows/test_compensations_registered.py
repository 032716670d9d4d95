"""Every undo a workflow records in the ledger is registered once the compensation DAG has loaded the
workflows (``workflows.load_compensations``): a recorded step whose undo nobody registered could never be
compensated."""

from __future__ import annotations

import re
from pathlib import Path

from execution_plane.saga import compensations

WORKFLOWS = Path(__file__).resolve().parents[3] / "dags" / "workflows"
RECORDED = re.compile(r'Compensation\(\s*"([a-z_.]+)"')


def recorded_actions() -> set[str]:
    return {m for path in WORKFLOWS.rglob("*.py") for m in RECORDED.findall(path.read_text(encoding="utf-8"))}


def test_every_recorded_undo_is_registered() -> None:
    from workflows import load_compensations

    loaded = load_compensations()
    actions = recorded_actions()
    assert len(actions) >= 10 and any(name.startswith("workflows.dd_room.") for name in loaded)
    missing = sorted(a for a in actions if a not in compensations.REGISTRY)
    assert missing == [], f"recorded but never registered: {missing}"


def test_the_compensation_dag_loads_the_workflows_before_it_undoes() -> None:
    source = (WORKFLOWS.parent / "saga_compensation.py").read_text(encoding="utf-8")
    assert source.index("load_compensations()") < source.index("compensate(saga")
