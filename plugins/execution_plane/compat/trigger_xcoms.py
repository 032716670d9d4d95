"""A trigger's end event hands its XComs to the next task as JSON text, not as the values it yielded.

Airflow 3.3.2: a trigger that ends its task (``TaskSuccessEvent(xcoms=...)``, ``end_from_trigger``) has its
XComs pushed by ``handle_event_submit`` in the triggerer (or the API server, or the scheduler) with
``TaskInstance.xcom_push`` -> ``XComModel.set(serialize=True)``, which stores ``json.dumps(value)``: a JSON
*string* in the JSON column. A task's own XComs come through the Execution API, which stores the value the
Task SDK sent as JSON (``serialize=False``). The worker of the next task reads both the same way, so a dict
the trigger yielded arrives as the text of that dict (``TypeError: string indices must be integers``).
Upstream: the two encodings of one column are apache/airflow#45231 (closed: XCom serialization moved to the
Task SDK, the server-side push kept ``serialize_value``) and the review of PR #58992, whose API-side reader
guesses which encoding a row has; no report of the end-event case found (searched 2026-12).

Fix here: ``install()`` registers, on Airflow's own ``handle_event_submit`` (a ``singledispatch`` function, so
every caller sees it: the triggerer's ``Trigger.submit_event``, the scheduler, the API server), a handler
for ``TaskSuccessEvent`` that ends the task as Airflow does, without the XComs, then stores them as the
Execution API stores a task's own (``serialize=False``). Installed by the plugin in the triggerer, the
scheduler and the API server (``install_if_component``); ``webhooks.resume`` installs it before it ends a
wait itself. Canary: ``tests/plugins/compat/test_trigger_xcoms.py``. When fixed (the canary's first test
fails): delete the module and its calls.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

UPSTREAM_REPORT = "apache/airflow#45231"
COMPONENTS = frozenset({"triggerer", "scheduler", "api-server"})

_installed = False


def install_if_component(argv: Sequence[str]) -> bool:
    """Install in the Airflow commands that end tasks from trigger events; returns whether it did."""
    program = argv[0].replace("\\", "/") if argv else ""
    airflow_cli = program.rsplit("/", 1)[-1] == "airflow" or program.endswith("airflow/__main__.py")
    if not (airflow_cli and len(argv) >= 2 and argv[1] in COMPONENTS):
        return False
    install()
    return True


def install() -> None:
    """Idempotent."""
    global _installed
    if _installed:
        return
    from airflow.models.trigger import handle_event_submit
    from airflow.triggers.base import TaskSuccessEvent

    handle_event_submit.register(TaskSuccessEvent, _submit_success)
    _installed = True
    log.info("execution_plane.compat.trigger_xcoms installed (%s)", UPSTREAM_REPORT)


def uninstall() -> None:
    """Back to Airflow's own handling (tests)."""
    global _installed
    from airflow.models.trigger import handle_event_submit
    from airflow.triggers.base import BaseTaskEndEvent, TaskSuccessEvent

    handle_event_submit.register(TaskSuccessEvent, handle_event_submit.dispatch(BaseTaskEndEvent))
    _installed = False


def _submit_success(event: Any, *, task_instance: Any, session: Any) -> None:
    from airflow.models.trigger import handle_event_submit
    from airflow.models.xcom import XComModel
    from airflow.triggers.base import BaseTaskEndEvent, TaskSuccessEvent

    airflows_own = handle_event_submit.dispatch(BaseTaskEndEvent)
    xcoms = event.xcoms or {}
    airflows_own(TaskSuccessEvent(xcoms=None), task_instance=task_instance, session=session)
    for key, value in xcoms.items():
        XComModel.set(
            key=key,
            value=value,
            task_id=task_instance.task_id,
            dag_id=task_instance.dag_id,
            run_id=task_instance.run_id,
            map_index=task_instance.map_index,
            serialize=False,
            session=session,
        )
    session.flush()
