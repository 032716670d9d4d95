"""The project's auth manager: Airflow's FAB auth manager, with roles for the people of the workflows.

Simple auth manager is for development: its roles are global (any ``user`` may change any task's state or
start any workflow; seen on `make run`: the ``legal`` approver marked the manager's gate ``success``). The FAB
auth manager (apache-airflow-providers-fab) has per-resource permissions, roles in the metadata database and
the HITL detail as a resource of its own. Five roles (``ROLES`` and Airflow's ``Admin``):

- ``Approver``: reads workflows (DAGs, runs, task instances, HITL details) and answers HITL requests; which
  ones is Airflow's rule: only those it is assigned to (``assigned_users``). Nothing else changes a state.
- ``Ops``: ops engineers: read everything a viewer reads
  plus the audit log, trigger runs, clear and mark task instances and runs. No HITL answers.
- ``Analyst``: reads (Airflow's Viewer, as listed here).
- ``Service``: the system's own API client (``ep_service``: the CRM ingress's run starts, the reconciler, the
  compliance scan): what ``Ops`` may do, and the list of connections (``can_read`` on ``Connections``, which
  the REST API answers without their passwords), which the compliance scan's secrets control needs to know
  which secrets to look for (it reads each one through the task's own connection access). No person has it.
- ``Admin``: Airflow's built-in role (users, roles, connections, variables, ...).

Two differences from ``FabAuthManager``, both for answering approvals:

1. Assigned users are usernames. The workflows assign people by name (``ApprovalGateOperator``: ``{"id":
   "legal", "name": "legal"}``); FAB's users are rows of ``ab_user`` whose id is a number that differs per
   deployment, and Airflow's default check (``user.get_id() in assigned_users``) would refuse every assignee.
   ``is_authorized_hitl_task`` compares the username instead (FAB usernames are unique).
2. Answering a HITL request does not edit the DAG. ``FabAuthManager.is_authorized_dag`` requires ``can_edit``
   on the DAG for any write to a DAG's sub-entity, so an approver would need ``can_edit`` on ``DAGs``, which
   also pauses and unpauses DAGs (``PATCH /dags/{dag_id}``). For ``HITL_DETAIL`` writes this class requires
   ``can_edit`` on ``HITL Detail`` and read access to the DAG; every other decision is FAB's.

The roles are code, synced at every start of the API server (``init_flask_resources``, with FAB's
``[fab] update_fab_perms``, on by default) and by ``devtools`` at setup: each role holds exactly the
permissions listed here (a permission added by hand in the UI is removed at the next start: change roles
here). Users and their roles are per deployment (``airflow users create``, or the UI as Admin).
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager
from airflow.providers.fab.www.security import permissions as p

APPROVER = "Approver"
OPS = "Ops"
SERVICE = "Service"
ANALYST = "Analyst"
ADMIN = "Admin"

Perm = tuple[str, str]

# What every person who signs in needs: the site, their own profile and password.
_SIGNED_IN: tuple[Perm, ...] = (
    (p.ACTION_CAN_READ, p.RESOURCE_WEBSITE),
    (p.ACTION_CAN_READ, p.RESOURCE_MY_PROFILE),
    (p.ACTION_CAN_EDIT, p.RESOURCE_MY_PROFILE),
    (p.ACTION_CAN_READ, p.RESOURCE_MY_PASSWORD),
    (p.ACTION_CAN_EDIT, p.RESOURCE_MY_PASSWORD),
)
# The workflows and where they stand: DAGs, runs, task instances, HITL details (the Required Actions page),
# and the Workflows page.
_READ_WORKFLOWS: tuple[Perm, ...] = (
    (p.ACTION_CAN_READ, p.RESOURCE_DAG),
    (p.ACTION_CAN_READ, p.RESOURCE_DAG_RUN),
    (p.ACTION_CAN_READ, p.RESOURCE_TASK_INSTANCE),
    (p.ACTION_CAN_READ, p.RESOURCE_HITL_DETAIL),
    (p.ACTION_CAN_ACCESS_MENU, p.RESOURCE_BROWSE_MENU),
    (p.ACTION_CAN_ACCESS_MENU, p.RESOURCE_DAG),
    (p.ACTION_CAN_ACCESS_MENU, p.RESOURCE_DAG_RUN),
    (p.ACTION_CAN_ACCESS_MENU, p.RESOURCE_TASK_INSTANCE),
    (p.ACTION_CAN_ACCESS_MENU, p.RESOURCE_HITL_DETAIL),
    # The UI lists the plugins' pages from GET /api/v2/plugins: without it the Workflows page
    # (execution_plane.ui) is missing from the navigation.
    (p.ACTION_CAN_READ, p.RESOURCE_PLUGIN),
)
# Everything else Airflow's Viewer reads: code, versions, logs, XComs, assets, pools, jobs, import errors.
_READ_ALL: tuple[Perm, ...] = (
    (p.ACTION_CAN_READ, p.RESOURCE_DAG_CODE),
    (p.ACTION_CAN_READ, p.RESOURCE_DAG_DEPENDENCIES),
    (p.ACTION_CAN_READ, p.RESOURCE_DAG_VERSION),
    (p.ACTION_CAN_READ, p.RESOURCE_DAG_WARNING),
    (p.ACTION_CAN_READ, p.RESOURCE_TASK_LOG),
    (p.ACTION_CAN_READ, p.RESOURCE_XCOM),
    (p.ACTION_CAN_READ, p.RESOURCE_ASSET),
    (p.ACTION_CAN_READ, p.RESOURCE_ASSET_ALIAS),
    (p.ACTION_CAN_READ, p.RESOURCE_BACKFILL),
    (p.ACTION_CAN_READ, p.RESOURCE_CLUSTER_ACTIVITY),
    (p.ACTION_CAN_READ, p.RESOURCE_POOL),
    (p.ACTION_CAN_READ, p.RESOURCE_IMPORT_ERROR),
    (p.ACTION_CAN_READ, p.RESOURCE_JOB),
    (p.ACTION_CAN_ACCESS_MENU, p.RESOURCE_DAG_DEPENDENCIES),
    (p.ACTION_CAN_ACCESS_MENU, p.RESOURCE_ASSET),
    (p.ACTION_CAN_ACCESS_MENU, p.RESOURCE_CLUSTER_ACTIVITY),
    (p.ACTION_CAN_ACCESS_MENU, p.RESOURCE_JOB),
    (p.ACTION_CAN_ACCESS_MENU, p.RESOURCE_DOCS),
    (p.ACTION_CAN_ACCESS_MENU, p.RESOURCE_DOCS_MENU),
)
# Operating runs: trigger (create a run), clear and mark (edit runs and task instances). Airflow checks
# ``can_edit`` on the DAG for every write to a run or a task instance, so it is here too (it also pauses).
_OPERATE: tuple[Perm, ...] = (
    (p.ACTION_CAN_EDIT, p.RESOURCE_DAG),
    (p.ACTION_CAN_CREATE, p.RESOURCE_DAG_RUN),
    (p.ACTION_CAN_EDIT, p.RESOURCE_DAG_RUN),
    (p.ACTION_CAN_EDIT, p.RESOURCE_TASK_INSTANCE),
    (p.ACTION_CAN_READ, p.RESOURCE_AUDIT_LOG),
    (p.ACTION_CAN_ACCESS_MENU, p.RESOURCE_AUDIT_LOG),
)
_ANSWER: tuple[Perm, ...] = ((p.ACTION_CAN_EDIT, p.RESOURCE_HITL_DETAIL),)
# Which connections exist (ids, hosts, logins; the REST API never returns a password).
_LIST_CONNECTIONS: tuple[Perm, ...] = ((p.ACTION_CAN_READ, p.RESOURCE_CONNECTION),)

#: The project's roles and exactly what each may do (``Admin`` is Airflow's, not listed).
ROLES: dict[str, frozenset[Perm]] = {
    APPROVER: frozenset(_SIGNED_IN + _READ_WORKFLOWS + _ANSWER),
    ANALYST: frozenset(_SIGNED_IN + _READ_WORKFLOWS + _READ_ALL),
    OPS: frozenset(_SIGNED_IN + _READ_WORKFLOWS + _READ_ALL + _OPERATE),
    SERVICE: frozenset(_SIGNED_IN + _READ_WORKFLOWS + _READ_ALL + _OPERATE + _LIST_CONNECTIONS),
}


def sync_roles(security_manager: Any) -> dict[str, int]:
    """Create the project's roles and give each exactly its permissions (FAB's security manager, inside its
    Flask app context); returns the number of permissions per role."""
    synced: dict[str, int] = {}
    for name, perms in ROLES.items():
        role = security_manager.find_role(name) or security_manager.add_role(name)
        wanted = []
        for action, resource in sorted(perms):
            perm = security_manager.get_permission(action, resource) or security_manager.create_permission(
                action, resource
            )
            if perm is None:
                raise RuntimeError(f"FAB could not create the permission {action} on {resource} for {name}")
            wanted.append(perm)
        if {(x.action.name, x.resource.name) for x in role.permissions} != perms:
            role.permissions = wanted
            security_manager.session.merge(role)
            security_manager.session.commit()
        synced[name] = len(wanted)
    return synced


class ExecutionPlaneAuthManager(FabAuthManager):
    """FAB's auth manager; approvals by username, answering them without editing the DAG (module doc)."""

    def init_flask_resources(self) -> None:
        super().init_flask_resources()
        from airflow.configuration import conf

        if conf.getboolean("fab", "update_fab_perms", fallback=True):
            sync_roles(self.security_manager)

    def is_authorized_hitl_task(self, *, assigned_users: set[str], user: Any) -> bool:
        return bool(user.get_name()) and user.get_name() in assigned_users

    def is_authorized_dag(
        self,
        *,
        method: Any,
        user: Any,
        access_entity: DagAccessEntity | None = None,
        details: DagDetails | None = None,
    ) -> bool:
        if access_entity == DagAccessEntity.HITL_DETAIL and method == "PUT":
            return self._is_authorized(
                method="PUT", resource_type=p.RESOURCE_HITL_DETAIL, user=user
            ) and super().is_authorized_dag(method="GET", user=user, details=details)
        return super().is_authorized_dag(
            method=method, user=user, access_entity=access_entity, details=details
        )
