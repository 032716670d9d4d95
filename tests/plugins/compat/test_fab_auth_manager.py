"""The project's roles as its FAB auth manager decides them (execution_plane.compat.fab_auth_manager), for
each request the REST API authorizes: who may answer approvals, change states, start runs, read. Users here
carry their role's permissions in memory (FAB's ``User`` with its permission set filled);
tests/e2e/test_roles_live.py asks the same questions of a running API server with stored users."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.providers.fab.auth_manager.models import User

from execution_plane.compat.fab_auth_manager import (
    ANALYST,
    APPROVER,
    OPS,
    ROLES,
    SERVICE,
    ExecutionPlaneAuthManager,
)

DAG = DagDetails(id="partner_approval")


def user(name: str, role: str) -> Any:
    person = User()
    person.id, person.username = 7, name
    person._perms = set(ROLES[role])  # type: ignore[assignment]
    return person


@pytest.fixture(scope="module")
def manager() -> ExecutionPlaneAuthManager:
    return ExecutionPlaneAuthManager()


def allowed(
    manager: ExecutionPlaneAuthManager, who: Any, method: str, entity: DagAccessEntity | None
) -> bool:
    return manager.is_authorized_dag(method=method, user=who, access_entity=entity, details=DAG)


# (method, entity): answer a HITL request, change a task instance's state or clear it, mark or start a run,
# pause the DAG, read runs, read task logs.
ANSWER = ("PUT", DagAccessEntity.HITL_DETAIL)
MARK_TASK = ("PUT", DagAccessEntity.TASK_INSTANCE)
MARK_RUN = ("PUT", DagAccessEntity.RUN)
TRIGGER = ("POST", DagAccessEntity.RUN)
PAUSE = ("PUT", None)
READ_RUN = ("GET", DagAccessEntity.RUN)
READ_HITL = ("GET", DagAccessEntity.HITL_DETAIL)
READ_LOGS = ("GET", DagAccessEntity.TASK_LOGS)

MATRIX = {
    APPROVER: {ANSWER, READ_RUN, READ_HITL},
    ANALYST: {READ_RUN, READ_HITL, READ_LOGS},
    OPS: {MARK_TASK, MARK_RUN, TRIGGER, PAUSE, READ_RUN, READ_HITL, READ_LOGS},
    SERVICE: {MARK_TASK, MARK_RUN, TRIGGER, PAUSE, READ_RUN, READ_HITL, READ_LOGS},
}
ACTIONS = (ANSWER, MARK_TASK, MARK_RUN, TRIGGER, PAUSE, READ_RUN, READ_HITL, READ_LOGS)


@pytest.mark.parametrize("role", sorted(MATRIX))
def test_each_role_may_do_exactly_its_actions(manager: ExecutionPlaneAuthManager, role: str) -> None:
    who = user("someone", role)
    may = {action for action in ACTIONS if allowed(manager, who, *action)}
    assert may == MATRIX[role]


def test_an_approver_answers_without_edit_rights_on_the_dag(manager: ExecutionPlaneAuthManager) -> None:
    """FAB alone asks for can_edit on DAGs (which also pauses DAGs) to answer; this auth manager does not."""
    from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager

    approver = user("legal", APPROVER)
    assert ("can_edit", "DAGs") not in approver.perms
    assert allowed(manager, approver, *ANSWER)
    assert not FabAuthManager.is_authorized_dag(
        manager, method="PUT", user=approver, access_entity=DagAccessEntity.HITL_DETAIL, details=DAG
    )


def test_assigned_users_are_matched_by_username(manager: ExecutionPlaneAuthManager) -> None:
    """The gates assign people by name; FAB's user id (a number) never matches, the username does."""
    legal = user("legal", APPROVER)
    assert manager.is_authorized_hitl_task(assigned_users={"legal", "admin"}, user=legal)
    assert not manager.is_authorized_hitl_task(assigned_users={"manager"}, user=legal)
    assert not manager.is_authorized_hitl_task(assigned_users={"7"}, user=legal)  # its id is not its name


def test_roles_hold_no_administration(manager: ExecutionPlaneAuthManager) -> None:
    for role, perms in ROLES.items():
        resources = {resource for _, resource in perms}
        assert not resources & {"Variables", "Users", "Roles", "Configurations"}, role
        # Only the system's own client lists connections (the compliance scan), and only reads them.
        listed = {p for p in perms if p[1] == "Connections"}
        assert listed == ({("can_read", "Connections")} if role == SERVICE else set()), role
    assert ROLES[SERVICE] - ROLES[OPS] == {("can_read", "Connections")}
    assert not {p for p in ROLES[APPROVER] if p[0] in ("can_edit", "can_create", "can_delete")} - {
        ("can_edit", "HITL Detail"),
        ("can_edit", "My Profile"),
        ("can_edit", "My Password"),
    }
    assert all(
        action == "can_read" or resource.startswith("My ") or action == "menu_access"
        for action, resource in ROLES[ANALYST]
    )
