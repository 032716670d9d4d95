"""The program around the functions: the closed deal checked, the integration plan, the Day-1 readiness,
Day 1 started and closed, and the closing with its report; and the last undo of a stopped program, which
tells everyone it affected, once.

The plan's record is the program's first saga step, so its undo (``pmi_program.tell_affected``) runs last:
by then every function's undo has recorded whom it affected, and each of them gets one message listing what
was undone for them.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, step
from execution_plane.saga.compensations import Compensation, compensation
from workflows.pmi_program.common import (
    ATTEMPTS,
    CRM_INTEGRATED,
    CRM_INTEGRATING,
    CRM_STOPPED,
    FUNCTIONS,
    LEAD_EMAIL,
    add_affected,
    function_rows,
    plan_of,
)

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga

log = logging.getLogger(__name__)

# After the Day-90 review passed, the integration stands: closing only moves forward, retrying for longer.
FORWARD_ONLY: dict[str, Any] = {"retries": 12, "max_retry_delay": timedelta(hours=1)}


# ----------------------------------------------------------------------------- the closed deal
@step
def closed_deal(run: Run) -> dict[str, Any]:
    """Refuse, before anything is registered or changed, a deal that has not closed or phases that do not
    increase: a clear error, nothing to compensate."""
    from airflow.sdk.exceptions import AirflowFailException

    from execution_plane.hooks.crm import CrmHook
    from workflows.pmi_program.domain import DealNotClosed, InvalidPhaseDays, check_closed, phase_days

    with CrmHook() as crm:
        deal = crm.get_deal(str(run.params["deal_id"]))
    try:
        days = phase_days(run.params)
        check_closed(deal)
    except (DealNotClosed, InvalidPhaseDays) as exc:
        raise AirflowFailException(str(exc)) from exc
    return {"deal_id": deal["deal_id"], "deal_status": deal.get("status"), "phase_days": days}


# ----------------------------------------------------------------------------- the plan
@step
def integration_plan(run: Run) -> dict[str, Any]:
    """Register the program, build its plan from the target's systems (read inside the step: a retry
    replays the same plan), record it with each function pending, and mark the CRM deal integrating."""
    import json

    from execution_plane.hooks.crm import CrmHook
    from execution_plane.hooks.erp import ErpHook
    from execution_plane.hooks.hris import HrisHook
    from execution_plane.hooks.legal import LegalHook
    from workflows.pmi_program.domain import build_plan

    params = run.params
    deal_id, target_id = str(params["deal_id"]), str(params["target_company_id"])
    with run.saga as saga:
        saga.register()

        def record(cur: Any) -> dict[str, Any]:
            with CrmHook() as crm, HrisHook() as hris, ErpHook() as erp, LegalHook() as legal:
                plan = build_plan(
                    deal=crm.get_deal(deal_id),
                    target_company=str(params["target_company"]),
                    target_company_id=target_id,
                    acquirer_company_id=str(params["acquirer_company_id"]),
                    acquirer_domain=str(params["acquirer_domain"]),
                    employees=hris.employees(target_id),
                    finance=erp.company(target_id),
                    entity=legal.entity(target_id),
                    contracts=legal.contracts(target_id),
                    customers=crm.customers(target_id),
                )
            cur.execute(
                "INSERT INTO pmi_programs (workflow_id, deal_id, target_company, target_company_id,"
                " acquirer_company_id, plan, status) VALUES (%s, %s, %s, %s, %s, %s::jsonb, 'planned')"
                " ON CONFLICT (workflow_id) DO NOTHING",
                (
                    saga.workflow_id,
                    deal_id,
                    plan.target_company,
                    target_id,
                    plan.acquirer_company_id,
                    plan.model_dump_json(),
                ),
            )
            for function in FUNCTIONS:
                cur.execute(
                    "INSERT INTO pmi_functions (workflow_id, function, status, scope) VALUES (%s, %s,"
                    " 'pending', %s) ON CONFLICT DO NOTHING",
                    (saga.workflow_id, function, plan.scope(function)),
                )
            return {"plan": json.loads(plan.model_dump_json()), "readiness_request": plan.readiness_request()}

        planned = saga.db_write(
            "plan",
            record,
            request={"deal_id": deal_id, "target_company_id": target_id},
            # The program's first step: its undo runs last and tells everyone affected, once.
            compensation=Compensation(
                "pmi_program.tell_affected", {"target": str(params["target_company"]), "deal_id": deal_id}
            ),
        )
        with CrmHook() as crm:
            saga.call(
                "deal.integrating",
                side_effect="crm.update_deal",
                request={"status": CRM_INTEGRATING},
                call=lambda key: crm.update_deal(
                    deal_id,
                    status=CRM_INTEGRATING,
                    fields={"workflow_id": saga.workflow_id},
                    idempotency_key=key,
                ),
                compensation=Compensation("crm.set_deal_status", {"deal_id": deal_id, "status": CRM_STOPPED}),
            )
    return {"plan": planned["plan"], "readiness_request": planned["readiness_request"]}


def record_not_ready(run: Run, decision: dict[str, Any]) -> None:
    """The Day-1 readiness gate was rejected or expired: the program never starts (nothing was integrated;
    compensation resets the CRM deal and tells the deal's owner)."""
    saga = run.saga
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE pmi_programs SET status = 'not_started', stop_reason = %s, updated_at = now()"
            " WHERE workflow_id = %s",
            (
                f"Day-1 readiness {decision['status']} ({decision.get('decided_by') or 'nobody'})",
                saga.workflow_id,
            ),
        )


# ----------------------------------------------------------------------------- Day 1
@step
def day1_started(run: Run) -> dict[str, Any]:
    """Day 1 begins now: its date is recorded once (a retry replays it); every phase counts from it."""
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE pmi_programs SET status = 'day1', day1_at = COALESCE(day1_at, now()),"
                " updated_at = now() WHERE workflow_id = %s RETURNING day1_at",
                (saga.workflow_id,),
            )
            (day1_at,) = cur.fetchone()
            return {"day1_at": day1_at.isoformat(), "day1_date": day1_at.date().isoformat()}

        return saga.db_write("day1.started", write, request={"day": 1})


@step
def day1_closed(run: Run) -> dict[str, Any]:
    """Every function finished its Day-1 work, was skipped, or failed beyond the person's retries. One that
    failed cannot be resolved: the program stops and is compensated (all functions, newest step first)."""
    with run.saga as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            functions = function_rows(cur, saga.workflow_id)
        failed = {f: row for f, row in functions.items() if row["status"] == "failed"}
        if failed:
            reason = "; ".join(
                f"{f} could not be completed on Day 1 after {ATTEMPTS} attempts: {row['last_error']}"
                for f, row in sorted(failed.items())
            )
            with saga.conn() as conn, conn.cursor() as cur:
                cur.execute(
                    "UPDATE pmi_programs SET status = 'failed', stop_reason = %s, updated_at = now()"
                    " WHERE workflow_id = %s",
                    (reason[:2000], saga.workflow_id),
                )
            run.end_badly("failed", reason)
        summary = {f: row["status"] for f, row in sorted(functions.items())}
        log.info("Day 1 closed: %s", summary)
        return {"functions": summary}


# ----------------------------------------------------------------------------- closing
@step(**FORWARD_ONLY)
def close_program(run: Run) -> dict[str, Any]:
    """The Day-90 review passed: the report (PDF, stored once by content hash), the program closed, the CRM
    deal integrated, the deal's owner and the integration lead told."""
    from datetime import date

    from execution_plane.hooks.crm import CrmHook
    from workflows.pmi_program.domain import IntegrationPlan, closing_report_pdf, open_items, program_closed

    with run.saga as saga:
        with saga.conn() as conn, conn.cursor() as cur:
            plan = IntegrationPlan.model_validate(plan_of(cur, saga.workflow_id))
            functions = function_rows(cur, saga.workflow_id)
            cur.execute(
                "SELECT phase, round, decision, extend_days, decided_by, done_items, total_items, checklist,"
                " decided_at FROM pmi_phase_reviews WHERE workflow_id = %s ORDER BY due_at, round",
                (saga.workflow_id,),
            )
            reviews = [
                {
                    "phase": r[0],
                    "round": r[1],
                    "decision": r[2],
                    "extend_days": r[3],
                    "decided_by": r[4],
                    "done": r[5],
                    "items": r[6],
                    "checklist": r[7] or {},
                    "decided_at": r[8],
                }
                for r in cur.fetchall()
            ]
            cur.execute("SELECT day1_at FROM pmi_programs WHERE workflow_id = %s", (saga.workflow_id,))
            (day1_at,) = cur.fetchone()
        last = reviews[-1] if reviews else {"checklist": {}, "decided_at": None}
        leftovers = open_items(functions, last["checklist"])
        closed_on = last["decided_at"].date() if last["decided_at"] else date.today()
        pdf = closing_report_pdf(
            plan,
            functions=functions,
            reviews=reviews,
            leftovers=leftovers,
            day1_on=day1_at.date(),
            closed_on=closed_on,
        )
        doc = saga.store_document("closing_report", kind="pmi_closing_report", data=pdf, compensation=False)

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE pmi_programs SET status = 'closed', report_sha256 = %s, closed_at = now(),"
                " updated_at = now() WHERE workflow_id = %s",
                (doc["sha256"], saga.workflow_id),
            )
            return {"report_sha256": doc["sha256"], "handed_over": leftovers}

        closed = saga.db_write("program.closed", write, request={"report_sha256": doc["sha256"]})
        with CrmHook() as crm:
            saga.call(
                "deal.integrated",
                side_effect="crm.update_deal",
                request={"status": CRM_INTEGRATED},
                call=lambda key: crm.update_deal(
                    plan.deal_id,
                    status=CRM_INTEGRATED,
                    fields={"pmi_report_sha256": doc["sha256"]},
                    idempotency_key=key,
                ),
            )
        message = program_closed(plan, leftovers, doc["uri"])
        told = {"lead": LEAD_EMAIL}
        if plan.owner_email and plan.owner_email != LEAD_EMAIL:
            told["owner"] = plan.owner_email
        for role, to in sorted(told.items()):
            saga.send_message(
                f"program.closed_notice.{role}",
                channel="email",
                to=to,
                template="pmi_closed",
                subject=message.subject,
                body=message.body,
            )
    return {**closed, "uri": doc["uri"]}


# ----------------------------------------------------------------------------- the last undo
@compensation("pmi_program.tell_affected")
def tell_affected(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Everyone the program affected gets ONE message listing what was undone for them (the deal's owner and
    the integration lead too); then the program is marked rolled back. A rerun sends nothing new: each
    message id is derived from the workflow and the recipient, and the provider replays it."""
    from execution_plane.hooks.messaging import MessagingHook
    from execution_plane.saga import keys
    from workflows.pmi_program.domain import rollback_notice

    with saga.conn() as conn, conn.cursor() as cur:
        plan = plan_of(cur, saga.workflow_id)
        team = [
            {"email": plan.get("owner_email") or LEAD_EMAIL, "name": None},
            {"email": LEAD_EMAIL, "name": None},
        ]
        add_affected(
            cur, saga.workflow_id, team, "the integration program is stopped and rolled back", role="team"
        )
        cur.execute(
            "SELECT recipient, name, undone FROM pmi_affected WHERE workflow_id = %s ORDER BY recipient",
            (saga.workflow_id,),
        )
        recipients = cur.fetchall()
    with MessagingHook("email") as hook:
        told = []
        for recipient, name, undone in recipients:
            message = rollback_notice(
                target_company=args["target"],
                acquirer=str(plan["acquirer_company_id"]),
                undone=list(undone),
                name=name,
            )
            mid = keys.message_id(saga.workflow_id, "rollback_notice", recipient, "pmi_rolled_back")
            hook.send(to=recipient, subject=message.subject, body=message.body, message_id=mid)
            told.append(recipient)
    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE pmi_affected SET told_at = COALESCE(told_at, now()) WHERE workflow_id = %s",
            (saga.workflow_id,),
        )
        cur.execute(
            "UPDATE pmi_programs SET status = 'rolled_back', stop_reason = COALESCE(stop_reason, %s),"
            " updated_at = now() WHERE workflow_id = %s",
            (reason[:2000], saga.workflow_id),
        )
    return {"told": told}
