"""Task-side steps of dd_room up to the sign-offs: the DD initiated, workstreams assigned, and each
workstream's collect / analyze / findings / sign-off, each an idempotent saga step with its undo beside it.
The review that follows (consolidation to close preparation) is in ``review``.

Each workstream's steps are saga steps under their own keys (``collect.financial``, ``findings.legal``,
...): a retry of one workstream replays or redoes only that workstream's step, never another's.

Compensation (newest first, by saga_compensation): the IC memo is archived (kept as the record of the
decision), the deal team is told a prepared close is off, the target gets the termination notice (only if
the "DD initiated" notice reached it), the room is archived, the CRM deal leaves due diligence, and last
``dd_room.lessons_learned`` closes the DD record and writes the lessons-learned record. The lessons are
written by compensation, not by a task on the rejection path, because every bad ending must leave one:
a refused sign-off, an IC rejection or expiry, and also a run that failed (an outside system down after
retries), which has no rejection path at all; the compensation DAG runs for all of them, once.

Domain models and hooks load inside the steps: the DAG file imports this module while it is parsed.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any

from execution_plane.durable import Run, step
from execution_plane.saga.compensations import Compensation, compensation

if TYPE_CHECKING:
    from execution_plane.saga.steps import Saga
    from workflows.dd_room.domain import Finding

log = logging.getLogger(__name__)

LEAD = "dd_lead"  # every workstream's lead (Airflow user; admin may answer too)
# The workstreams of the graph (domain.WORKSTREAMS; not imported: the DAG file reads this while parsed).
WORKSTREAMS = ("financial", "legal", "technical", "product", "security")
SIGNOFF_PREFIX = "signoff_"
CRM_DD_STATUS = "due_diligence"
CRM_CLOSING_STATUS = "closing"
CRM_TERMINATED_STATUS = "dd_terminated"
TERMINATION_NOTICE = (
    "Thank you for your cooperation during our due diligence. We have decided not to proceed with the "
    "transaction at this time. The data room has been closed and archived; no further uploads are needed. "
    "We will keep the information you shared confidential."
)
CLOSE_CANCELLED_NOTICE = (
    "The close preparation announced earlier for this deal is cancelled: the due diligence was terminated "
    "({reason}). Please stop closing work."
)


def room_id_for(request_id: str) -> str:
    """One room per DD request (the room outlives the run: it is archived, never deleted)."""
    return f"dd-{request_id}"


# ----------------------------------------------------------------------------- DD initiated
@step
def dd_initiated(run: Run) -> dict[str, Any]:
    """Register the DD, record it, put the CRM deal in due diligence, open the room, tell the target."""
    from execution_plane.hooks.crm import CrmHook
    from execution_plane.hooks.docstore import DocstoreHook
    from workflows.dd_room.domain import Deal
    from workflows.dd_room.domain.provider_facts import company_id_for

    params = run.params
    deal_id, target = str(params["deal_id"]), str(params["target_company"])
    room_id = room_id_for(str(params["request_id"]))
    with run.saga as saga:
        saga.register()
        with CrmHook() as crm:

            def record(cur: Any) -> dict[str, Any]:
                # The CRM read is part of the step: a retry replays what the DD started with.
                crm_deal = crm.get_deal(deal_id)
                cur.execute(
                    "INSERT INTO dd_rooms (workflow_id, deal_id, target_company, base_valuation_usd, status)"
                    " VALUES (%s, %s, %s, %s, 'open') ON CONFLICT (workflow_id) DO NOTHING",
                    (saga.workflow_id, deal_id, target, params["base_valuation_usd"]),
                )
                cur.execute(
                    "INSERT INTO deals (deal_id, status, workflow_id) VALUES (%s, %s, %s)"
                    " ON CONFLICT (deal_id) DO UPDATE SET status = EXCLUDED.status, status_reason = NULL,"
                    " workflow_id = EXCLUDED.workflow_id, updated_at = now()",
                    (deal_id, CRM_DD_STATUS, saga.workflow_id),
                )
                return {
                    "deal": Deal(
                        deal_id=deal_id, target_name=target, sector=str(crm_deal.get("sector") or "")
                    ).model_dump(mode="json"),
                    "deal_name": crm_deal.get("name"),
                    "owner_email": crm_deal.get("owner_email"),
                    "company_id": company_id_for(crm_deal, target),
                    "room_id": room_id,
                }

            started = saga.db_write(
                "dd_record",
                record,
                request={
                    "deal_id": deal_id,
                    "target_company": target,
                    "base_valuation_usd": params["base_valuation_usd"],
                    "room_id": room_id,
                },
                # Runs last in compensation: closes the record and writes the lessons learned.
                compensation=Compensation("dd_room.lessons_learned", {"deal_id": deal_id, "target": target}),
            )
            saga.call(
                "crm_deal_in_dd",
                side_effect="crm.update_deal",
                request={"status": CRM_DD_STATUS},
                call=lambda key: crm.update_deal(
                    deal_id,
                    status=CRM_DD_STATUS,
                    fields={"workflow_id": saga.workflow_id, "room_id": room_id},
                    idempotency_key=key,
                ),
                compensation=Compensation(
                    "crm.set_deal_status", {"deal_id": deal_id, "status": CRM_TERMINATED_STATUS}
                ),
            )
        with DocstoreHook() as docstore:
            saga.call(
                "room_opened",
                side_effect="docstore.create_room",
                request={"room_id": room_id},
                call=lambda key: docstore.create_room(
                    room_id, f"DD {target} ({deal_id})", idempotency_key=key
                ),
                compensation=Compensation("docstore.archive_room", {"room_id": room_id}),
            )
        # The first contact with the target carries the undo "tell them it is off": a target hears about a
        # termination once, and only a target that heard about the DD at all.
        saga.send_message(
            "target_notified",
            channel="email",
            to=str(params["target_contact_email"]),
            template="dd_initiated",
            subject=f"Due diligence started: {target}",
            body=(
                f"We are starting due diligence on {target} (reference {deal_id}). A data room ({room_id}) "
                "is open for your documents on financials, legal, technical, product and security."
            ),
            compensation=Compensation(
                "message.notify",
                {
                    "channel": "email",
                    "to": str(params["target_contact_email"]),
                    "subject": f"Due diligence on {target} terminated",
                    "body": TERMINATION_NOTICE,
                    "template": "dd_terminated",
                },
            ),
        )
    return started


@compensation("dd_room.lessons_learned")
def close_with_lessons(saga: Saga, args: dict[str, Any], reason: str, key: str) -> dict[str, Any]:
    """Close the DD record (room record archived, deal out of DD) and write its lessons-learned record.

    The register is rebuilt from the persisted findings: what the DD found before it ended, also when it
    ended before the register step ran. Idempotent on its own (upserts keyed by the workflow id).
    """
    import json

    from workflows.dd_room.domain import Deal, consolidate, lessons_learned, risk_register

    with saga.conn() as conn, conn.cursor() as cur:
        cur.execute("SELECT decision FROM dd_rooms WHERE workflow_id = %s", (saga.workflow_id,))
        row = cur.fetchone()
        decision = row[0] if row and row[0] else "failed"
        register = risk_register(consolidate(persisted_findings(cur, saga.workflow_id)))
        record = lessons_learned(
            Deal(deal_id=args["deal_id"], target_name=args["target"]),
            register,
            decision,
            reason,
            recorded_on=date.today(),
        )
        cur.execute(
            "INSERT INTO lessons_learned (workflow_id, record) VALUES (%s, %s::jsonb)"
            " ON CONFLICT (workflow_id) DO NOTHING",
            (saga.workflow_id, json.dumps(record)),
        )
        cur.execute(
            "UPDATE dd_rooms SET status = 'archived', decision = COALESCE(decision, %s),"
            " updated_at = now() WHERE workflow_id = %s",
            (decision, saga.workflow_id),
        )
        cur.execute(
            "UPDATE deals SET status = %s, status_reason = %s, updated_at = now()"
            " WHERE deal_id = %s AND workflow_id = %s",
            (CRM_TERMINATED_STATUS, reason[:2000], args["deal_id"], saga.workflow_id),
        )
    return {"lessons_learned": record["record_id"], "decision": decision, "risks": len(register)}


# ----------------------------------------------------------------------------- workstreams assigned
@step
def workstreams_assigned(run: Run) -> dict[str, Any]:
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            for workstream in WORKSTREAMS:
                cur.execute(
                    "INSERT INTO dd_workstreams (workflow_id, workstream, lead, status)"
                    " VALUES (%s, %s, %s, 'assigned') ON CONFLICT DO NOTHING",
                    (saga.workflow_id, workstream, LEAD),
                )
            return {workstream: LEAD for workstream in WORKSTREAMS}

        return saga.db_write(
            "workstreams_assigned", write, request={"leads": dict.fromkeys(WORKSTREAMS, LEAD)}
        )


# ----------------------------------------------------------------------------- each workstream
@step
def collect(run: Run, started: dict[str, Any], workstream: str) -> dict[str, Any]:
    """The room's documents of the workstream (financial: plus the financial data API), as the domain reads
    them. The reads are inside the step, so a retry after it committed replays the same evidence."""
    from execution_plane.hooks.docstore import DocstoreHook
    from execution_plane.hooks.research import FinancialsHook
    from workflows.dd_room.domain.provider_facts import domain_facts, financials_document

    room_id = started["room_id"]
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            with DocstoreHook() as hook:
                raw = hook.room_documents(room_id, workstream)
            documents = [
                {
                    "doc_id": d.get("document_id"),
                    "workstream": d.get("workstream", workstream),
                    "title": d.get("title"),
                    "sha256": d.get("sha256"),
                    "facts": domain_facts(workstream, dict(d.get("facts") or {})),
                }
                for d in raw
                if d.get("workstream", workstream) == workstream
            ]
            if workstream == "financial":
                with FinancialsHook() as fin:
                    documents.append(
                        financials_document(started["company_id"], fin.company(started["company_id"]))
                    )
            cur.execute(
                "UPDATE dd_workstreams SET status = 'collected', documents = %s, updated_at = now()"
                " WHERE workflow_id = %s AND workstream = %s",
                (len(documents), saga.workflow_id, workstream),
            )
            return {"workstream": workstream, "documents": documents}

        return saga.db_write(
            f"collect.{workstream}", write, request={"room_id": room_id, "workstream": workstream}
        )


@step
def analyze(run: Run, collected: dict[str, Any], workstream: str) -> dict[str, Any]:
    from workflows.dd_room.domain import analyze_workstream

    findings = analyze_workstream(workstream, collected["documents"])
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE dd_workstreams SET status = 'analyzed', updated_at = now()"
                " WHERE workflow_id = %s AND workstream = %s",
                (saga.workflow_id, workstream),
            )
            return {"workstream": workstream, "findings": [f.model_dump(mode="json") for f in findings]}

        return saga.db_write(
            f"analyze.{workstream}",
            write,
            request={"workstream": workstream, "documents": [d["doc_id"] for d in collected["documents"]]},
        )


@step
def findings(run: Run, analyzed: dict[str, Any], workstream: str) -> dict[str, Any]:
    """Persist the workstream's findings; the lead's sign-off request carries their summary."""
    from workflows.dd_room.domain import Finding

    found = [Finding.model_validate(f) for f in analyzed["findings"]]
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            for f in found:
                cur.execute(
                    "INSERT INTO dd_findings (workflow_id, workstream, code, title, severity, likelihood,"
                    " evidence, valuation_impact_pct) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (workflow_id, code) DO NOTHING",
                    (
                        saga.workflow_id,
                        f.workstream,
                        f.code,
                        f.title,
                        f.severity,
                        f.likelihood,
                        f.evidence,
                        f.valuation_impact_pct,
                    ),
                )
            cur.execute(
                "UPDATE dd_workstreams SET findings = %s, updated_at = now()"
                " WHERE workflow_id = %s AND workstream = %s",
                (len(found), saga.workflow_id, workstream),
            )
            worst = max((f.risk_score for f in found), default=0)
            summary = (
                f"{len(found)} finding(s), highest risk score {worst}: "
                + "; ".join(f"{f.code} (S{f.severity}/L{f.likelihood})" for f in found)
                if found
                else "no findings"
            )
            return {
                "workstream": workstream,
                "findings": len(found),
                "codes": [f.code for f in found],
                "summary": summary,
            }

        recorded = saga.db_write(
            f"findings.{workstream}",
            write,
            request={"workstream": workstream, "codes": sorted(f.code for f in found)},
        )
    return {
        **recorded,
        "signoff_request": (
            f"DD {run.request_id} (deal {run.params['deal_id']}), {workstream}: {recorded['summary']}. "
            "Approve to sign off, or reject with a reason (ends the DD)."
        ),
    }


@step
def signed_off(run: Run, workstream: str) -> dict[str, Any]:
    decision = run.decision(signoff_stage(workstream)) or {}
    with run.saga as saga:

        def write(cur: Any) -> dict[str, Any]:
            cur.execute(
                "UPDATE dd_workstreams SET status = 'signed_off', updated_at = now()"
                " WHERE workflow_id = %s AND workstream = %s",
                (saga.workflow_id, workstream),
            )
            return {"workstream": workstream, "signed_off_by": decision.get("decided_by")}

        return saga.db_write(f"signed_off.{workstream}", write, request={"workstream": workstream})


def signoff_stage(workstream: str) -> str:
    """The approval-bridge stage of a workstream's lead sign-off."""
    return f"{SIGNOFF_PREFIX}{workstream}"


def record_not_approved(run: Run, decision: dict[str, Any]) -> None:
    """Business-table status of a refused / rejected / expired DD (before compensation starts); the stage
    and the approver's comment are in the workflow's reason."""
    stage, status = str(decision["stage"]), str(decision["status"])
    workstream = stage.removeprefix(SIGNOFF_PREFIX) if stage.startswith(SIGNOFF_PREFIX) else None
    saga = run.saga
    with saga.conn() as conn, conn.cursor() as cur:
        if workstream:
            cur.execute(
                "UPDATE dd_workstreams SET status = 'not_signed_off', updated_at = now()"
                " WHERE workflow_id = %s AND workstream = %s",
                (saga.workflow_id, workstream),
            )
        cur.execute(
            "UPDATE dd_rooms SET decision = %s, decided_by = %s, updated_at = now() WHERE workflow_id = %s",
            (status, decision.get("decided_by"), saga.workflow_id),
        )


def persisted_findings(cur: Any, workflow_id: str) -> list[Finding]:
    """The findings every workstream recorded so far, by code."""
    from workflows.dd_room.domain import Finding

    cur.execute(
        "SELECT workstream, code, title, severity, likelihood, evidence, valuation_impact_pct"
        " FROM dd_findings WHERE workflow_id = %s ORDER BY code",
        (workflow_id,),
    )
    return [
        Finding(
            workstream=r[0],
            code=r[1],
            title=r[2],
            severity=r[3],
            likelihood=r[4],
            evidence=r[5],
            valuation_impact_pct=r[6],
        )
        for r in cur.fetchall()
    ]
