"""
### Audit log write (short-lived local)

Event -> AuditLog insert. One component's audit event (who reports, who did what, on which workflow, when,
with its details) chained into the append-only, hash-chained audit log, in one transaction with its
`audit_events` row: once per `event_id` (the same event again gets the first one's link, `duplicate`; the
same id with other content is refused, naming `event_id`). The chain is checked by
`python -m execution_plane.services.audit verify`, which reports the first broken link.

The step is the toolkit's audit service, the same implementation `POST /services/audit-events` answers
with (`write_audit_event_task` in a workflow's own step). Params mirror the service's `AuditEvent` model:
a bad one is refused before any task runs.

Inventory: *Audit log write*, Sync, <1 s.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, get_current_context, task

from execution_plane.services.dag import service_dag


@service_dag(
    doc_md=__doc__,
    params={
        "event_id": Param(
            type="string",
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$",
            description="the sender's id of the event: the same id again is the same event",
        ),
        "component": Param(type="string", pattern=r"^[a-z][a-z0-9_.-]{0,63}$", description="who reports"),
        "actor": Param(type="string", minLength=1, maxLength=200, description="who did it: a user, a system"),
        "action": Param(type="string", pattern=r"^[a-z][a-z0-9_.:-]{0,99}$"),
        "workflow_id": Param(None, type=["null", "string"], minLength=1, maxLength=300),
        "occurred_at": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$",
            description="ISO 8601 with its UTC offset",
        ),
        "details": Param({}, type="object", description="what happened, as JSON (at most 16 KiB)"),
    },
)
def audit_log_write() -> None:
    # ---------------------------------------------------------------- tasks
    @task
    def write() -> dict[str, Any]:
        from workflows.audit_log_write import steps

        return steps.write(get_current_context()["params"])

    # ---------------------------------------------------------------- calling tasks
    write()


audit_log_write()
