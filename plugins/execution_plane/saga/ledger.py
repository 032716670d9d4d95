"""The step ledger: idempotent execution of side effects, saga bookkeeping, compensation records.

Protocol of one step (``run_step``), all inside ONE transaction of the business database:

0. a key already ``done`` is replayed from ONE read when nothing else would happen anyway (the run owns
   its workflow, the request is the same): the stored result, no lock, no write (``_replay``);
1. otherwise the workflow is registered and guarded (``ensure_workflow``: its row share-locked), and the
   ``idempotency_keys`` row of the step's key is inserted or locked (a second concurrent attempt blocks
   here until the first commits or dies; ``attempts`` counts these claims);
2. a row already ``done`` -> the stored result is replayed, nothing else happens;
3. otherwise the action runs (an outside call carrying the same key as its ``Idempotency-Key``, or SQL
   on the same cursor), then the key row becomes ``done`` with the result, and the ``saga_steps`` row
   naming the step's compensation is written; COMMIT.

A crash after the outside call but before COMMIT rolls the ledger back; the retry calls the provider
again with the same key and the provider replays its first answer: one effect. A crash after COMMIT:
the retry replays from the ledger without calling anyone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from execution_plane.saga import audit
from execution_plane.saga.compensations import Compensation
from execution_plane.saga.errors import IdempotencyConflict, WorkflowAlreadyEnded, WorkflowNotRunning
from execution_plane.saga.keys import request_hash

log = logging.getLogger(__name__)

TERMINAL_OK = ("completed",)
BAD_ENDINGS = ("rejected", "expired", "failed")
ENDED = ("completed", "compensated")


@dataclass(frozen=True)
class StepOutcome:
    key: str
    result: dict[str, Any]
    replayed: bool


Action = Callable[[Any], dict[str, Any]]
CompensationSpec = Compensation | Callable[[dict[str, Any]], Compensation | None] | None


def ensure_workflow(cur: Any, *, workflow_id: str, dag_id: str, run_id: str, business_key: str) -> str:
    """Register the workflow (first step of a run) and refuse to run one that already ended."""
    cur.execute(
        "INSERT INTO saga_workflows (workflow_id, dag_id, run_id, business_key, status)"
        " VALUES (%s, %s, %s, %s, 'running') ON CONFLICT (workflow_id) DO NOTHING",
        (workflow_id, dag_id, run_id, business_key),
    )
    # FOR SHARE: a step in flight keeps the workflow from changing state (e.g. to compensating) until it
    # commits, so compensation never lists the steps while one of them is still being written.
    cur.execute("SELECT status, run_id FROM saga_workflows WHERE workflow_id = %s FOR SHARE", (workflow_id,))
    status, owner_run = cur.fetchone()
    if status in ENDED and owner_run != run_id:
        raise WorkflowAlreadyEnded(
            f"workflow {workflow_id} already ended ({status}) in run {owner_run}; "
            "start a new request with a new request_id"
        )
    if owner_run != run_id and status == "running":
        # A re-run of the same request (e.g. a cleared or re-triggered run) takes the workflow over;
        # every step it repeats replays from the ledger.
        cur.execute(
            "UPDATE saga_workflows SET run_id = %s, updated_at = now() WHERE workflow_id = %s",
            (run_id, workflow_id),
        )
    return str(status)


def run_step(
    conn: Any,
    *,
    workflow_id: str,
    step: str,
    key: str,
    side_effect: str,
    request: Mapping[str, Any],
    action: Action,
    compensation: CompensationSpec = None,
    scope: str = "step",
    register: Callable[[Any], str] | None = None,
    run_id: str | None = None,
    record_step: bool = True,
    on_done: Callable[[Any, dict[str, Any]], None] | None = None,
) -> StepOutcome:
    """Run ``action`` at most once per ``key`` (see module docstring).

    ``conn`` is a psycopg2 connection (saga.db.connect): ``with conn:`` is one transaction.
    ``register`` registers and guards the workflow (``ensure_workflow``) for ``run_id``, the run doing the
    step; without ``run_id`` a registering call never takes the one-read replay.
    """
    digest = request_hash(dict(request))
    with conn, conn.cursor() as cur:
        replayed = _replay(
            cur,
            workflow_id=workflow_id,
            key=key,
            digest=digest,
            registering=register is not None,
            run_id=run_id,
        )
        if replayed is not None:
            return replayed
        workflow_status = register(cur) if register is not None else None
        cur.execute(
            "INSERT INTO idempotency_keys (key, scope, workflow_id, request_hash, status)"
            " VALUES (%s, %s, %s, %s, 'started')"
            " ON CONFLICT (key) DO UPDATE SET attempts = idempotency_keys.attempts + 1, updated_at = now()"
            " RETURNING status, request_hash, result",
            (key, scope, workflow_id, digest),
        )
        status, stored_hash, stored = cur.fetchone()
        if status == "done":
            if stored_hash != digest:
                raise IdempotencyConflict(
                    f"key {key} was first used for a different request (hash {stored_hash[:12]} != "
                    f"{digest[:12]}): refusing to replay a result that does not belong to this request"
                )
            log.info("idempotency key %s: replayed stored result, no side effect", key)
            return StepOutcome(key=key, result=stored or {}, replayed=True)
        if record_step:
            cur.execute(
                "SELECT idempotency_key FROM saga_steps WHERE workflow_id = %s AND step = %s",
                (workflow_id, step),
            )
            recorded = cur.fetchone()
            if recorded is not None and recorded[0] != key:
                # One step = one effect: a second effect under the same step name would lose its undo.
                raise IdempotencyConflict(
                    f"step {step} of {workflow_id} already recorded a different effect ({recorded[0]});"
                    f" give this effect ({key}) its own step name"
                )
        if workflow_status is not None and workflow_status != "running":
            raise WorkflowNotRunning(
                f"workflow {workflow_id} is {workflow_status}: refusing a new side effect ({step}); "
                "a workflow that ended or is being compensated must not act any more"
            )
        log.info("idempotency key %s: executing %s", key, side_effect)
        result = action(cur)
        cur.execute(
            "UPDATE idempotency_keys SET status = 'done', result = %s::jsonb, updated_at = now()"
            " WHERE key = %s",
            (json.dumps(result, default=str), key),
        )
        if on_done is not None:
            on_done(cur, result)
        if not record_step:
            return StepOutcome(key=key, result=result, replayed=False)
        comp = compensation(result) if callable(compensation) else compensation
        cur.execute(
            "INSERT INTO saga_steps (workflow_id, step, idempotency_key, side_effect, compensation_action,"
            " compensation_args, status) VALUES (%s, %s, %s, %s, %s, %s::jsonb, 'done')"
            " ON CONFLICT (workflow_id, step) DO NOTHING",
            (
                workflow_id,
                step,
                key,
                side_effect,
                comp.action if comp else None,
                json.dumps(comp.args if comp else {}, default=str),
            ),
        )

        return StepOutcome(key=key, result=result, replayed=False)


def _replay(
    cur: Any, *, workflow_id: str, key: str, digest: str, registering: bool, run_id: str | None
) -> StepOutcome | None:
    """The stored result of a step already done, from one read, when the full protocol could only replay it
    too; None sends the call through the full protocol.

    A ``done`` key row never changes again, and replaying it makes no effect, so it needs neither the key
    row's lock nor the workflow row's share lock (that lock keeps compensation from listing the steps while
    a NEW effect is being recorded). The read does not stand in for the registration where it would act or
    refuse: no workflow row yet, a row another run owns (``ensure_workflow`` takes it over, or refuses the
    run once the workflow ended), a registering call without ``run_id``; nor for a different request under
    the key (the full protocol raises ``IdempotencyConflict``). A workflow that left ``running`` still
    replays the steps its own run completed, as the full protocol does.
    """
    cur.execute(
        "SELECT k.request_hash, k.result, w.run_id FROM idempotency_keys k"
        " LEFT JOIN saga_workflows w ON w.workflow_id = %s"
        " WHERE k.key = %s AND k.status = 'done'",
        (workflow_id, key),
    )
    row = cur.fetchone()
    if row is None:
        return None
    stored_hash, stored, owner_run = row
    if stored_hash != digest or (registering and (run_id is None or owner_run != run_id)):
        return None
    log.info("idempotency key %s: replayed stored result, no side effect", key)
    return StepOutcome(key=key, result=stored or {}, replayed=True)


def stored_result(cur: Any, key: str, request: Mapping[str, Any]) -> dict[str, Any] | None:
    """The result stored under ``key`` when it is done for this very request, else None."""
    cur.execute(
        "SELECT result FROM idempotency_keys WHERE key = %s AND status = 'done' AND request_hash = %s",
        (key, request_hash(dict(request))),
    )
    row = cur.fetchone()
    return dict(row[0] or {}) if row else None


def set_status(
    cur: Any, workflow_id: str, status: str, reason: str | None = None, *, only_from: tuple[str, ...] = ()
) -> bool:
    """Move a workflow to ``status``; with ``only_from``, only from those states.

    Returns whether it moved."""
    query = (
        "UPDATE saga_workflows SET status = %s, reason = COALESCE(%s, reason), updated_at = now()"
        " WHERE workflow_id = %s"
    )
    params: list[Any] = [status, reason, workflow_id]
    if only_from:
        query += " AND status = ANY(%s)"
        params.append(list(only_from))
    cur.execute(query, params)
    moved = bool(cur.rowcount)
    if moved:
        audit.append(
            cur,
            actor="saga",
            workflow_id=workflow_id,
            action=f"workflow.{status}",
            details={"reason": reason},
        )
        if status in OUTCOMES:
            announce_outcome(cur, workflow_id, status, reason)
    return moved


# The ends of a workflow another one may wait for (a parent for its child: execution_plane.durable.children).
OUTCOMES = ("completed", *BAD_ENDINGS, "compensated")
OUTCOME_SOURCE = "workflow"


def outcome_event_type(status: str) -> str:
    return f"{OUTCOME_SOURCE}.{status}"


def announce_outcome(cur: Any, workflow_id: str, status: str, reason: str | None) -> None:
    """Put the workflow's outcome in the inbox (correlation key ``keys.outcome_key``), in the transaction that
    records it: a parent waiting for it wakes through the same NOTIFY an outside event fires."""
    from execution_plane import inbox
    from execution_plane.saga.keys import outcome_key

    inbox.insert_event(
        cur,
        f"{OUTCOME_SOURCE}:{workflow_id}:{status}",
        OUTCOME_SOURCE,
        outcome_event_type(status),
        outcome_key(workflow_id),
        {"workflow_id": workflow_id, "status": status, "reason": reason},
    )


@dataclass(frozen=True)
class LedgerStep:
    step: str
    seq: int
    idempotency_key: str
    side_effect: str
    compensation_action: str | None
    compensation_args: dict[str, Any]
    status: str


def steps_to_compensate(cur: Any, workflow_id: str) -> list[LedgerStep]:
    """Completed steps with an undo, newest first: the order compensation must walk."""
    cur.execute(
        "SELECT step, seq, idempotency_key, side_effect, compensation_action, compensation_args, status"
        " FROM saga_steps WHERE workflow_id = %s AND compensation_action IS NOT NULL ORDER BY seq DESC",
        (workflow_id,),
    )
    return [LedgerStep(*row) for row in cur.fetchall()]


def live_holders(cur: Any, action: str, *, sha256: str, other_than: str) -> list[str]:
    """Other live (running or completed) workflows whose done step names the undo ``action`` for the same
    content address: content-addressed bytes are shared, so their undo must leave them to those holders."""
    cur.execute(
        "SELECT DISTINCT s.workflow_id FROM saga_steps s JOIN saga_workflows w USING (workflow_id)"
        " WHERE s.compensation_action = %s AND s.compensation_args->>'sha256' = %s"
        " AND s.status = 'done' AND s.workflow_id <> %s AND w.status IN ('running', 'completed')"
        " ORDER BY s.workflow_id",
        (action, sha256, other_than),
    )
    return [row[0] for row in cur.fetchall()]


def workflow_row(cur: Any, workflow_id: str) -> dict[str, Any] | None:
    cur.execute(
        "SELECT workflow_id, dag_id, run_id, business_key, status, reason, compensation_run_id"
        " FROM saga_workflows WHERE workflow_id = %s",
        (workflow_id,),
    )
    row = cur.fetchone()
    if row is None:
        return None
    names = ("workflow_id", "dag_id", "run_id", "business_key", "status", "reason", "compensation_run_id")
    return dict(zip(names, row, strict=True))
