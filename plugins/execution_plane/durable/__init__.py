"""Authoring durable workflows: the DAG factory, steps, gates, waits, routes and endings.

A durable workflow is one package, ``dags/workflows/<workflow>/`` (docs/adr/0002-one-workflow-one-place.md):
its DAG file ``dag.py`` tells the story with these helpers, its steps live beside it, its business rules in
its ``domain`` package. Everything here is generic: it knows no workflow.

    @durable_workflow(doc_md=__doc__, params={...}, tags=[...])
    def partner_approval() -> None:
        profile = steps.identify_partner()                       # a @step of the workflow
        manager = approval("manager_approval", assignee="manager", subject=..., body=...,
                           on_not_approved=steps.record_not_approved)
        steps.fit_score(profile) >> manager
        manager.then(...)                                        # approval leads here
        ...
        complete()

Imported by DAG files while they are parsed: nothing here loads the ledger, a database driver or a hook.
"""

from __future__ import annotations

from execution_plane.durable.children import CHILD_OUTCOMES, child_outcome, start_child, wait_for_child
from execution_plane.durable.endings import complete, settle
from execution_plane.durable.gates import approval, choice
from execution_plane.durable.params import id_param, timeout_hours_param
from execution_plane.durable.run import Run
from execution_plane.durable.steps import body_of, routed_step, routes, step
from execution_plane.durable.waits import wait_for_event
from execution_plane.durable.workflow import CRM_STARTABLE_TAG, durable_workflow

__all__ = [
    "CHILD_OUTCOMES",
    "CRM_STARTABLE_TAG",
    "Run",
    "approval",
    "body_of",
    "child_outcome",
    "choice",
    "complete",
    "durable_workflow",
    "id_param",
    "routed_step",
    "routes",
    "settle",
    "start_child",
    "step",
    "timeout_hours_param",
    "wait_for_child",
    "wait_for_event",
]
