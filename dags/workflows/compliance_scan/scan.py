"""Opening a scan: its id, the window it looks at, the controls it runs and the policy it checks against."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

DAG_ID = "compliance_scan"
POLICY_VARIABLE = "compliance_policy"


def open_scan(params: dict[str, Any], run_id: str, window_end: datetime) -> dict[str, Any]:
    """The scan's identity and window, and the policy from configuration: a missing or bad policy ends the
    scan here, naming the field, before anything is checked or stored."""
    from airflow.sdk import Variable
    from airflow.sdk.exceptions import AirflowFailException

    from execution_plane.saga import keys
    from workflows.compliance_scan.domain import CONTROL_IDS, PolicyError, parse_policy

    try:
        policy = parse_policy(Variable.get(POLICY_VARIABLE, default=None))
    except PolicyError as exc:
        raise AirflowFailException(f"bad configuration, nothing checked: {exc}") from None
    scan_id = params.get("scan_id") or "scan-" + hashlib.sha256(run_id.encode()).hexdigest()[:12]
    window_start = window_end - timedelta(hours=float(params["lookback_hours"]))
    chosen = params.get("controls") or list(CONTROL_IDS)
    controls = [c for c in CONTROL_IDS if c in chosen]
    log.info("compliance scan %s: %s to %s, controls %s", scan_id, window_start, window_end, controls)
    return {
        "scan_id": scan_id,
        "workflow_id": keys.workflow_id(DAG_ID, scan_id),
        "run_id": run_id,
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
        "controls": controls,
        "policy": policy.model_dump(mode="json"),
        "max_task_instances": int(params["max_task_instances"]),
        "max_evidence_packs": int(params["max_evidence_packs"]),
    }


def saga_of(scan: dict[str, Any]) -> Any:
    """The scan's saga (its documents and messages, each once), registered by its first effect."""
    from execution_plane.saga.steps import Saga

    return Saga(
        workflow_id=scan["workflow_id"], dag_id=DAG_ID, run_id=scan["run_id"], business_key=scan["scan_id"]
    )
