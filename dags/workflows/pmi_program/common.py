"""What every part of pmi_program shares: its names, its people, and the rows it reads in several places."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

DAG_ID = "pmi_program"
CHECK_TASK = "closed_deal"
LEAD = "integration_lead"  # the integration management office's lead: gates, reviews, retry/skip choices
LEAD_EMAIL = f"{LEAD}@execution-plane.example"
# The functions of the graph (domain.FUNCTIONS; not imported: the DAG file reads this while it is parsed).
FUNCTIONS = ("hr", "finance", "it", "legal", "crm")
# Person-driven attempts of one function's Day-1 work the graph holds: the first, and two retries.
ATTEMPTS = 3
CRM_INTEGRATING = "integrating"
CRM_INTEGRATED = "integrated"
CRM_STOPPED = "integration_stopped"


def decision_stage(function: str, attempt: int) -> str:
    """The approval-bridge stage of the retry/skip choice after ``function``'s attempt ``attempt`` failed."""
    return f"{function}_decision_{attempt}"


def review_stage(phase: str, round_no: int) -> str:
    return f"{phase}_review_r{round_no}"


def plan_of(cur: Any, workflow_id: str) -> dict[str, Any]:
    cur.execute("SELECT plan FROM pmi_programs WHERE workflow_id = %s", (workflow_id,))
    row = cur.fetchone()
    if row is None:
        raise LookupError(f"no integration plan recorded for {workflow_id}")
    plan: dict[str, Any] = row[0]
    return plan


def function_rows(cur: Any, workflow_id: str) -> dict[str, dict[str, Any]]:
    """Each function's Day-1 status, attempts, last error, decision and result."""
    cur.execute(
        "SELECT function, status, attempts, last_error, decided_by, result FROM pmi_functions"
        " WHERE workflow_id = %s",
        (workflow_id,),
    )
    return {
        row[0]: {
            "status": row[1],
            "attempts": row[2],
            "last_error": row[3],
            "decided_by": row[4],
            "result": row[5] or {},
        }
        for row in cur.fetchall()
    }


def set_function(
    cur: Any,
    workflow_id: str,
    function: str,
    *,
    status: str | None = None,
    attempts: int | None = None,
    last_error: str | None = None,
    decided_by: str | None = None,
    result: Mapping[str, Any] | None = None,
) -> None:
    """Update a function's row: the given fields (``result`` merged into the stored one)."""
    cur.execute(
        "UPDATE pmi_functions SET status = COALESCE(%s, status),"
        " attempts = GREATEST(attempts, COALESCE(%s, 0)),"
        " last_error = COALESCE(%s, last_error), decided_by = COALESCE(%s, decided_by),"
        " result = result || %s::jsonb, updated_at = now() WHERE workflow_id = %s AND function = %s",
        (status, attempts, last_error, decided_by, json.dumps(dict(result or {})), workflow_id, function),
    )


def add_affected(
    cur: Any, workflow_id: str, people: Iterable[Mapping[str, Any]], undone: str, *, role: str
) -> int:
    """Record that ``undone`` happened for each person (``email``, ``name``): they will be told once, in one
    message listing everything undone for them. Idempotent: an undo run again adds nothing."""
    count = 0
    for person in people:
        cur.execute(
            "INSERT INTO pmi_affected (workflow_id, recipient, name, role, undone) VALUES (%s, %s, %s, %s,"
            " ARRAY[%s]) ON CONFLICT (workflow_id, recipient) DO UPDATE SET undone ="
            " CASE WHEN %s = ANY(pmi_affected.undone) THEN pmi_affected.undone"
            " ELSE pmi_affected.undone || EXCLUDED.undone END",
            (workflow_id, str(person["email"]).lower(), person.get("name"), role, undone, undone),
        )
        count += 1
    return count


def separated(
    saga: Saga,
    function: str,
    people: Iterable[Mapping[str, Any]],
    undone: str | Callable[[Mapping[str, Any]], str],
    *,
    role: str,
) -> None:
    """After one of ``function``'s undos: each person is on the list told once of what was undone for them
    (``undone``, or ``undone(person)`` where it differs per person), and the function is separated."""
    with saga.conn() as conn, conn.cursor() as cur:
        for person in people:
            add_affected(
                cur,
                saga.workflow_id,
                [person],
                undone if isinstance(undone, str) else undone(person),
                role=role,
            )
        set_function(cur, saga.workflow_id, function, status="separated")
