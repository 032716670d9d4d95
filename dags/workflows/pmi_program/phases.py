"""The Day-30, Day-60 and Day-90 gates: when each review is due, the checklist it shows, and where the
reviewer's answer leads (the review itself is ``review_gate``).

Per phase and review round: ``due`` (the date, fixed once) -> ``wait`` (DateTimeSensorAsync, deferred from a
worker, holding no worker) -> ``checklist`` (what the systems say now) -> ``review`` (Pass / Extend / Stop)
-> ``outcome`` (passed: the next phase, or closing; extended: the same phase's next round, N days later).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from execution_plane.durable import Run, routed_step, step
from workflows.pmi_program.common import FUNCTIONS, function_rows, plan_of, review_stage

log = logging.getLogger(__name__)


@step
def due(run: Run, phase: str, round_no: int) -> dict[str, Any]:
    """When this review is due: Day 1 (recorded) + the phase's days + every extension granted so far, in
    program days of ``day_seconds``. Fixed once: a retry replays it."""
    from workflows.pmi_program.domain import due_at, phase_days

    stage = review_stage(phase, round_no)
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute("SELECT day1_at FROM pmi_programs WHERE workflow_id = %s", (saga.workflow_id,))
            (day1_at,) = cur.fetchone()
            cur.execute(
                "SELECT extend_days FROM pmi_phase_reviews WHERE workflow_id = %s AND decision = 'extend'",
                (saga.workflow_id,),
            )
            extensions = [row[0] for row in cur.fetchall()]
            when = due_at(
                day1_at,
                phase_day=phase_days(run.params)[phase],
                extension_days=extensions,
                day_seconds=float(run.params["day_seconds"]),
            )
            cur.execute(
                "INSERT INTO pmi_phase_reviews (workflow_id, phase, round, stage, due_at) VALUES (%s, %s, %s,"
                " %s, %s) ON CONFLICT (workflow_id, phase, round) DO NOTHING",
                (saga.workflow_id, phase, round_no, stage, when),
            )
            cur.execute(
                "UPDATE pmi_programs SET status = %s, updated_at = now() WHERE workflow_id = %s",
                (phase, saga.workflow_id),
            )
            return {
                "phase": phase,
                "round": round_no,
                "wait_until": when.isoformat(),
                "extended_by_days": sum(extensions),
            }

        return saga.db_write(f"{phase}.due.r{round_no}", write, request={"phase": phase, "round": round_no})


@step
def checklist(run: Run, phase: str, round_no: int) -> dict[str, Any]:
    """The phase's checklist as the systems stand now (a snapshot: a retry shows the reviewer the same)."""
    from workflows.pmi_program.day1 import function_module
    from workflows.pmi_program.domain import PHASE_TITLES, phase_checklist

    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            plan = plan_of(cur, saga.workflow_id)
            rows = function_rows(cur, saga.workflow_id)
            facts = {
                function: {
                    "status": rows[function]["status"],
                    **function_module(function).facts(plan, rows[function]),
                }
                for function in FUNCTIONS
            }
            checked = phase_checklist(phase, round_no, facts)
            snapshot = {
                "items": [item.model_dump() for item in checked.items],
                "facts": facts,
                "summary": checked.summary(),
            }
            cur.execute(
                "UPDATE pmi_phase_reviews SET checklist = %s::jsonb, done_items = %s, total_items = %s"
                " WHERE workflow_id = %s AND phase = %s AND round = %s",
                (json.dumps(snapshot), checked.done, len(checked.items), saga.workflow_id, phase, round_no),
            )
            return {"summary": checked.summary(), "open": len(checked.open_items), "done": checked.done}

        checked = saga.db_write(
            f"{phase}.checklist.r{round_no}", write, request={"phase": phase, "round": round_no}
        )
    title = PHASE_TITLES[phase]
    return {
        **checked,
        "review_request": (
            f"{title} review of {run.params['target_company']} (round {round_no}). {checked['summary']}. "
            f"Pass: {title} is done. Extend: review {title} again after `extend_days` more program days "
            "(later phases move by as much). Stop: the program stops and every integration step is undone."
        ),
    }


@routed_step
def outcome(run: Run, phase: str, round_no: int) -> dict[str, Any]:
    """The reviewer passed or extended the phase (a stop ended at the gate): where the program goes next."""
    stage = review_stage(phase, round_no)
    with run.saga as saga, saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT decision, extend_days, decided_by FROM pmi_phase_reviews WHERE workflow_id = %s"
            " AND stage = %s",
            (saga.workflow_id, stage),
        )
        decision, days, decided_by = cur.fetchone()
    if decision == "extend":
        log.info("%s extended by %s days by %s", stage, days, decided_by)
        return {"next": "extended", "extend_days": days, "decided_by": decided_by}
    return {"next": "passed", "decided_by": decided_by}


def record_review_stop(run: Run, decision: dict[str, Any]) -> None:
    """A review said Stop, or nobody reviewed in time: the review and the program record why (compensation
    follows)."""
    stage = str(decision["stage"])
    verdict = "expired" if decision["status"] == "expired" else "stop"
    saga = run.saga
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE pmi_phase_reviews SET decision = %s, decided_by = COALESCE(decided_by, %s),"
            " comment = COALESCE(comment, %s), decided_at = COALESCE(decided_at, now())"
            " WHERE workflow_id = %s AND stage = %s AND (decision IS NULL OR decision = 'stop')",
            (verdict, decision.get("decided_by"), decision.get("comment"), saga.workflow_id, stage),
        )
        cur.execute(
            "UPDATE pmi_programs SET status = 'stopped', stop_reason = %s, updated_at = now()"
            " WHERE workflow_id = %s",
            (f"{stage}: {verdict} ({decision.get('decided_by') or 'nobody'})", saga.workflow_id),
        )
