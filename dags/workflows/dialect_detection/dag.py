"""
### Dialect detection (short-lived local)

Arabic text -> Gulf, Egyptian, Levantine, Maghrebi, Iraqi or MSA (or not Arabic / too short) with a confidence
and the marker words found, stored once per text. The step is the toolkit's dialect service, the same
implementation `POST /services/dialect-detections` answers with (`detect_dialect_task` in a workflow's own
step).

Inventory: *Dialect detection*, Sync, <1 s.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, get_current_context, task

from execution_plane.services.dag import service_dag


@service_dag(
    doc_md=__doc__,
    params={
        "text": Param(type="string", minLength=1, maxLength=10_000),
        "text_id": Param(None, type=["null", "string"], pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$"),
    },
)
def dialect_detection() -> None:
    # ---------------------------------------------------------------- tasks
    @task
    def detect() -> dict[str, Any]:
        from execution_plane.services.dialect import detect_dialect_task

        params = get_current_context()["params"]
        return detect_dialect_task({"text": params["text"], "text_id": params["text_id"]})

    # ---------------------------------------------------------------- calling tasks
    detect()


dialect_detection()
